"""The events table: web steps and e-mail events as Segment messages, JSON built vectorized.

Rows are grouped by event (all pages, then all Product Viewed, ...), which lets each group's
`properties` be one Arrow join or look-up; within a group a session's events keep their
order. The pulled-out columns (product_id, category, brand, price, quantity, cart_id,
order_id, revenue, campaign_id) hold exactly the values written into `properties`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifetide.synth import identifiers, money, strings
from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray
from lifetide.synth.assortment import BRANDS, CATEGORIES, SUBCATEGORIES
from lifetide.synth.baskets import Baskets
from lifetide.synth.campaigns import CLICKED, EMAIL_EVENTS, Campaigns, Mailings
from lifetide.synth.catalog import SHOP_URL, Catalog
from lifetide.synth.customers import RecordStrings
from lifetide.synth.promotions import PROMOS
from lifetide.synth.sessions import LANDING, ORDER, Devices, Sessions
from lifetide.synth.steps import (
    E_ADDED,
    E_CANCELLED,
    E_CART_VIEWED,
    E_CHECKOUT,
    E_COMPLETED,
    E_COUPON,
    E_IDENTIFY,
    E_LIST,
    E_PAGE,
    E_SEARCH,
    E_VIEWED,
    Steps,
)
from lifetide.synth.timeline import Timeline
from lifetide.synth.useragents import AGENTS
from lifetide.warehouse import schema
from lifetide.warehouse.arrow import arrow_schema

E_EMAIL = 11  # first e-mail code; campaigns.DELIVERED.. follow in order
TRACK_NAMES = (
    "Home", "", "Product List Viewed", "Products Searched", "Product Viewed", "Product Added",
    "Cart Viewed", "Checkout Started", "Coupon Applied", "Order Completed", "Order Cancelled",
    *EMAIL_EVENTS, "Category",
)  # fmt: skip
CATEGORY_PAGE = len(TRACK_NAMES) - 1  # the name of page events on category pages
N_CODES = E_EMAIL + len(EMAIL_EVENTS)
CART_CODES = (E_ADDED, E_CART_VIEWED, E_CHECKOUT, E_COUPON, E_COMPLETED)
ORDER_CODES = (E_COUPON, E_COMPLETED, E_CANCELLED)
STATIC_PATHS = (
    "/",
    "/cart",
    "/checkout",
    "/checkout/confirmation",
    "/account/login",
    "/account/orders",
)
HOME, CART_PAGE, CHECKOUT_PAGE, CONFIRMATION, LOGIN, ACCOUNT_ORDERS = range(len(STATIC_PATHS))
LANDS_ON_CATEGORY = 0.4  # share of sessions starting on a category page (else the home page)


def _slug(category: str) -> str:
    return category.replace(" & ", "-and-")


@dataclass(frozen=True)
class Vocabulary:
    """Every string that depends only on the catalog and the calendar, built once per run."""

    category: int  # first category path; + category number
    search: int  # first search path; + subcategory number
    product: int  # first product path; + product number
    landing: int  # first campaign landing path; + campaign number
    page_properties: pa.Array  # per path
    context: pa.Array  # per (path, agent): path * len(AGENTS) + agent
    list_properties: pa.Array  # per category
    search_properties: pa.Array  # per subcategory
    viewed_properties: pa.Array  # per product
    fragments: pa.Array  # per product: "product_id":..,"price":..,"currency":"USD"
    email_heads: pa.Array  # per campaign: {"campaign_id":..,"email_subject":..
    click_tails: pa.Array  # per campaign: ,"link_url":"..."}
    product_ids: pa.Array
    price_cents: IntArray
    brand_of_product: pa.Array
    category_names: pa.Array
    campaign_ids: pa.Array


def vocabulary(catalog: Catalog, campaigns: Campaigns) -> Vocabulary:
    """Index every page path and pre-build the JSON that needs no per-event value."""
    categories = [f"/category/{_slug(c)}" for c in CATEGORIES]
    searches = [f"/search?q={s.name.replace(' ', '+')}" for s in SUBCATEGORIES]
    products = [u.removeprefix(SHOP_URL) for u in catalog.url]
    landings = [
        f"/?utm_source=newsletter&utm_medium=email&utm_campaign={c}" for c in campaigns.campaign_id
    ]
    paths = [*STATIC_PATHS, *categories, *searches, *products, *landings]
    first_category = len(STATIC_PATHS)
    is_category = [
        first_category <= i < first_category + len(categories) for i in range(len(paths))
    ]
    page_properties = [
        f'{{"name":"{"Category" if c else "Home"}","path":"{p}","url":"{SHOP_URL}{p}"}}'
        for p, c in zip(paths, is_category, strict=True)
    ]
    context = [
        f'{{"page":{{"path":"{p}","url":"{SHOP_URL}{p}"}},"userAgent":"{a}"}}'
        for p in paths
        for a in AGENTS
    ]
    link = "?utm_source=newsletter&utm_medium=email&utm_campaign="
    return Vocabulary(
        category=first_category,
        search=first_category + len(categories),
        product=first_category + len(categories) + len(searches),
        landing=first_category + len(categories) + len(searches) + len(products),
        page_properties=pa.array(page_properties),
        context=pa.array(context),
        list_properties=pa.array(
            [f'{{"list_id":"{_slug(c)}","category":"{c}"}}' for c in CATEGORIES]
        ),
        search_properties=pa.array([f'{{"query":"{s.name}"}}' for s in SUBCATEGORIES]),
        viewed_properties=pa.array(
            [f'{{{f},"url":"{u}"}}' for f, u in zip(catalog.fragment, catalog.url, strict=True)]
        ),
        fragments=pa.array(catalog.fragment),
        email_heads=pa.array(
            [
                f'{{"campaign_id":"{i}","campaign_name":"{n}","email_subject":"{s}","email_id":"'
                for i, n, s in zip(
                    campaigns.campaign_id, campaigns.name, campaigns.subject, strict=True
                )
            ]
        ),
        click_tails=pa.array(
            [f'","link_url":"{SHOP_URL}/{link}{i}"}}' for i in campaigns.campaign_id]
        ),
        product_ids=pa.array(catalog.product_id),
        price_cents=catalog.price_cents,
        brand_of_product=pa.array([BRANDS[b][0] for b in catalog.brand]),
        category_names=pa.array(list(CATEGORIES)),
        campaign_ids=pa.array(campaigns.campaign_id),
    )


def _money_text(cents: IntArray) -> pa.Array:
    return pc.cast(money.decimals(cents), pa.string())


@dataclass(frozen=True)
class Rows:
    """The chunk's events as arrays, grouped by event code."""

    code: IntArray
    day: FloatArray
    session: IntArray  # -1 for e-mail events
    device: IntArray  # -1 for e-mail events
    user: IntArray  # record index, -1 when anonymous
    product: IntArray
    quantity: IntArray
    category: IntArray
    subcategory: IntArray
    campaign: IntArray
    mail_record: IntArray
    path: IntArray  # -1 for e-mail events
    order: IntArray  # -1 where none


def _rows(
    steps: Steps,
    sessions: Sessions,
    devices: Devices,
    signed_in: BoolArray,
    mailings: Mailings,
    voc: Vocabulary,
    rng: np.random.Generator,
) -> Rows:
    """Web steps and e-mail events side by side, sorted (stably) by event code."""
    n_web, n_mail = steps.size, len(mailings.record)
    device = sessions.device[steps.session]
    lands = rng.random(sessions.size) < LANDS_ON_CATEGORY

    def web(values: IntArray, fill: int = -1) -> IntArray:
        return np.concatenate([values, np.full(n_mail, fill, dtype=np.int64)])

    code = np.concatenate([steps.code, E_EMAIL + mailings.kind])
    perm = np.argsort(code, kind="stable")
    session = web(steps.session)[perm]
    # Web events carry the device's account once it has signed in; e-mail events the
    # record the e-mail went to.
    user = np.concatenate([np.where(signed_in, devices.account[device], -1), mailings.record])
    return Rows(
        code=code[perm],
        day=np.concatenate([steps.day, mailings.day])[perm],
        session=session,
        device=web(device)[perm],
        user=user[perm],
        product=web(steps.product)[perm],
        quantity=web(steps.quantity, 0)[perm],
        category=web(steps.category)[perm],
        subcategory=web(steps.subcategory)[perm],
        campaign=np.concatenate([np.full(n_web, -1), mailings.campaign])[perm],
        mail_record=np.concatenate([np.full(n_web, -1), mailings.record])[perm],
        path=web(_web_paths(steps, sessions, voc, lands))[perm],
        order=np.where(session >= 0, sessions.order[np.maximum(session, 0)], -1),
    )


def build_events(
    chunk: int,
    steps: Steps,
    sessions: Sessions,
    devices: Devices,
    signed_in: BoolArray,
    mailings: Mailings,
    baskets: Baskets,
    order_ids: pa.Array,
    cart_ids: pa.Array,
    device_ids: pa.Array,
    record_strings: RecordStrings,
    voc: Vocabulary,
    timeline: Timeline,
    rng: np.random.Generator,
) -> pa.Table:
    """The chunk's events table: web steps then e-mail events, grouped by event."""
    r = _rows(steps, sessions, devices, signed_in, mailings, voc, rng)
    n = len(r.code)
    bounds = np.searchsorted(r.code, np.arange(N_CODES + 1))
    has_product = r.product >= 0
    p = np.maximum(r.product, 0)
    o = np.maximum(r.order, 0)
    has_cart = np.isin(r.code, CART_CODES)
    has_order = np.isin(r.code, ORDER_CODES)

    counter = np.int64(chunk) * identifiers.CHUNK_STRIDE + np.arange(n, dtype=np.int64)
    noise = rng.integers(0, np.iinfo(np.int64).max, n, dtype=np.int64).astype(np.uint64)
    latency = rng.lognormal(np.log(0.4), 1.0, n) / 86_400
    type_code = np.where(r.code == E_PAGE, 1, np.where(r.code == E_IDENTIFY, 2, 0))
    on_category = (r.code == E_PAGE) & (r.path >= voc.category) & (r.path < voc.search)
    name = np.where(on_category, CATEGORY_PAGE, r.code)

    cart = strings.pick(cart_ids, np.maximum(r.session, 0), has_cart)
    oid = strings.pick(order_ids, o, has_order)
    columns: dict[str, pa.Array] = {
        "message_id": identifiers.uuid_like(counter, noise, salt=0x5EED_0E7E),
        "type": strings.pick(["track", "page", "identify"], type_code),
        "event": strings.pick(list(TRACK_NAMES), name, r.code != E_IDENTIFY),
        "timestamp": timeline.timestamps(r.day),
        "received_at": timeline.timestamps(r.day + latency),
        "user_id": strings.pick(record_strings.customer_id, np.maximum(r.user, 0), r.user >= 0),
        "anonymous_id": strings.pick(device_ids, np.maximum(r.device, 0), r.device >= 0),
        "product_id": strings.pick(voc.product_ids, p, has_product),
        "category": strings.pick(voc.category_names, np.maximum(r.category, 0), r.category >= 0),
        "brand": strings.pick(voc.brand_of_product, p, has_product),
        "price": money.decimals(voc.price_cents[p], valid=has_product),
        "quantity": pa.array(r.quantity.astype(np.int32), mask=r.code != E_ADDED),
        "cart_id": cart,
        "order_id": oid,
        "revenue": money.decimals(baskets.total[o], valid=r.code == E_COMPLETED),
        "campaign_id": strings.pick(voc.campaign_ids, np.maximum(r.campaign, 0), r.campaign >= 0),
    }
    pieces: list[pa.Array] = []
    for c in range(N_CODES):
        rows = slice(int(bounds[c]), int(bounds[c + 1]))
        if rows.stop > rows.start:
            pieces.append(_properties(c, rows, r, chunk, cart, oid, baskets, steps, voc))
    columns["properties"] = pa.concat_arrays(pieces) if pieces else pa.nulls(0, pa.string())

    ident = slice(int(bounds[E_IDENTIFY]), int(bounds[E_IDENTIFY + 1]))
    columns["traits"] = pa.concat_arrays(
        [
            pa.nulls(ident.start, pa.string()),
            _traits(r.user[ident], record_strings),
            pa.nulls(n - ident.stop, pa.string()),
        ]
    )
    agent = devices.agent[np.maximum(r.device, 0)]
    columns["context"] = strings.pick(
        voc.context, np.maximum(r.path, 0) * len(AGENTS) + agent, r.path >= 0
    )
    table_schema = arrow_schema(schema.EVENTS)
    return pa.Table.from_arrays([columns[f.name] for f in table_schema], schema=table_schema)


def _properties(
    c: int,
    rows: slice,
    r: Rows,
    chunk: int,
    cart: pa.Array,
    oid: pa.Array,
    baskets: Baskets,
    steps: Steps,
    voc: Vocabulary,
) -> pa.Array:
    """The `properties` JSON of one event group."""
    p = np.maximum(r.product[rows], 0)
    o = np.maximum(r.order[rows], 0)
    if c == E_PAGE:
        return strings.pick(voc.page_properties, r.path[rows])
    if c == E_IDENTIFY:
        return pa.nulls(rows.stop - rows.start, pa.string())
    if c == E_LIST:
        return strings.pick(voc.list_properties, r.category[rows])
    if c == E_SEARCH:
        return strings.pick(voc.search_properties, r.subcategory[rows])
    if c == E_VIEWED:
        return strings.pick(voc.viewed_properties, p)
    if c == E_ADDED:
        return strings.join(
            ["{", strings.pick(voc.fragments, p), ',"quantity":', strings.text(r.quantity[rows]),
             ',"cart_id":"', cart[rows], '"}']
        )  # fmt: skip
    if c == E_CART_VIEWED:
        return strings.join(['{"cart_id":"', cart[rows], '"}'])
    if c == E_CHECKOUT:
        value = np.where(
            r.order[rows] >= 0,
            baskets.subtotal[o],
            steps.cart_value[np.maximum(r.session[rows], 0)],
        )
        return strings.join(
            ['{"cart_id":"', cart[rows], '","value":', _money_text(value), ',"currency":"USD"}']
        )
    if c == E_COUPON:
        code = strings.pick([x.code for x in PROMOS], np.maximum(baskets.promo[o], 0))
        return strings.join(
            ['{"cart_id":"', cart[rows], '","order_id":"', oid[rows], '","coupon_id":"', code,
             '","coupon_name":"', code, '","discount":', _money_text(baskets.discount[o]), "}"]
        )  # fmt: skip
    if c == E_COMPLETED:
        total = _money_text(baskets.total[o])
        coupon = strings.pick(
            [""] + [f',"coupon":"{x.code}"' for x in PROMOS], baskets.promo[o] + 1
        )
        return strings.join(
            ['{"order_id":"', oid[rows], '","cart_id":"', cart[rows], '","total":', total,
             ',"revenue":', total, ',"subtotal":', _money_text(baskets.subtotal[o]),
             ',"shipping":', _money_text(baskets.shipping[o]),
             ',"tax":', _money_text(baskets.tax[o]),
             ',"discount":', _money_text(baskets.discount[o]), coupon, ',"currency":"USD"}']
        )  # fmt: skip
    if c == E_CANCELLED:
        return strings.join(['{"order_id":"', oid[rows], '"}'])
    # E-mail events: one id per (campaign, record), shared by its delivery, open and click.
    campaign = r.campaign[rows]
    mail = np.int64(chunk) * identifiers.CHUNK_STRIDE + (campaign << 20) + r.mail_record[rows]
    email_id = strings.fixed(strings.hex_digits(identifiers.mix64(mail, salt=0xE3A1)))
    tail = strings.pick(voc.click_tails, campaign) if c - E_EMAIL == CLICKED else '"}'
    return strings.join([strings.pick(voc.email_heads, campaign), email_id, tail])


def _web_paths(steps: Steps, sessions: Sessions, voc: Vocabulary, lands: BoolArray) -> IntArray:
    """The page path of each web event."""
    s = steps.session
    code = steps.code
    first_page = np.where(
        sessions.kind == LANDING,
        voc.landing + np.maximum(sessions.campaign, 0),
        np.where(lands, voc.category + steps.list_category, HOME),
    )
    by_code = np.full(E_EMAIL, -1)
    by_code[[E_CART_VIEWED, E_CHECKOUT, E_COUPON]] = [CART_PAGE, CHECKOUT_PAGE, CHECKOUT_PAGE]
    by_code[[E_COMPLETED, E_CANCELLED]] = [CONFIRMATION, ACCOUNT_ORDERS]
    out = by_code[code]
    out = np.where(code == E_PAGE, first_page[s], out)
    out = np.where(code == E_LIST, voc.category + steps.list_category[s], out)
    out = np.where(code == E_SEARCH, voc.search + np.maximum(steps.subcategory, 0), out)
    out = np.where(steps.product >= 0, voc.product + np.maximum(steps.product, 0), out)
    login = np.where(sessions.kind[s] == ORDER, CHECKOUT_PAGE, LOGIN)
    return np.asarray(np.where(code == E_IDENTIFY, login, out), dtype=np.int64)


def _traits(user: IntArray, record_strings: RecordStrings) -> pa.Array:
    """Identify traits: the account's e-mail (when it has one) and names."""
    take = pa.array(user)
    email = record_strings.email.take(take)
    email_part = pc.if_else(
        pc.is_valid(email), strings.join(['"email":"', email, '",']), pa.scalar("")
    )
    return strings.join(
        [
            "{",
            email_part,
            '"first_name":"',
            record_strings.first_name.take(take),
            '","last_name":"',
            record_strings.last_name.take(take),
            '"}',
        ]
    )
