"""The ground truth written beside the data: persons' latent traits, records, devices, ..."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lifetide.synth import money, strings
from lifetide.synth.arraytypes import FloatArray, IntArray
from lifetide.synth.assortment import BRANDS, CATEGORIES, TIERS
from lifetide.synth.baskets import Baskets
from lifetide.synth.campaigns import Campaigns
from lifetide.synth.catalog import Catalog
from lifetide.synth.config import UPLIFT_CLASSES
from lifetide.synth.contacts import Identities
from lifetide.synth.duplicates import KINDS, NO_EMAIL, NO_PHONE, PLUS_TAG, Records
from lifetide.synth.people import Persons
from lifetide.synth.places import CITIES
from lifetide.synth.purchases import Purchases
from lifetide.synth.sessions import Devices
from lifetide.synth.timeline import Timeline
from lifetide.warehouse.schema import CUSTOMER_SOURCES

TS = pa.timestamp("us")
PREF_COLUMNS = [f"pref_{c.replace(' & ', '_and_')}" for c in CATEGORIES]
TIER_COLUMNS = [f"tier_{t}" for t in TIERS]

PERSONS = pa.schema(
    [
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("acquired_at", TS, nullable=False),
        pa.field("buyer", pa.bool_(), nullable=False),
        pa.field("lambda_per_week", pa.float64(), nullable=False),
        pa.field("p_dropout", pa.float64(), nullable=False),
        pa.field("repeat_purchases", pa.int64(), nullable=False),
        pa.field("alive_at_end", pa.bool_(), nullable=False),
        pa.field("dropout_at", TS),
        pa.field("nu", pa.float64(), nullable=False),
        pa.field("mean_order_value", pa.float64(), nullable=False),
        *[pa.field(c, pa.float64(), nullable=False) for c in PREF_COLUMNS],
        pa.field("top_category", pa.string(), nullable=False),
        *[pa.field(c, pa.float64(), nullable=False) for c in TIER_COLUMNS],
        pa.field("brand_loyalty", pa.float64(), nullable=False),
        pa.field("favourite_brands", pa.list_(pa.string()), nullable=False),
        pa.field("store_share", pa.float64(), nullable=False),
        pa.field("loyalty_member", pa.bool_(), nullable=False),
        pa.field("discount_seeker", pa.bool_(), nullable=False),
        pa.field("clearance_lover", pa.bool_(), nullable=False),
        pa.field("return_propensity", pa.float64(), nullable=False),
        pa.field("promo_propensity", pa.float64(), nullable=False),
        pa.field("email_class", pa.string(), nullable=False),
        pa.field("discount_class", pa.string(), nullable=False),
        pa.field("email_open_propensity", pa.float64(), nullable=False),
        pa.field("email_click_propensity", pa.float64(), nullable=False),
        pa.field("unsubscribe_propensity", pa.float64(), nullable=False),
        pa.field("email_bounces", pa.bool_(), nullable=False),
        pa.field("city", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("time_zone", pa.string(), nullable=False),
        pa.field("staples", pa.list_(pa.string()), nullable=False),
        pa.field("devices", pa.int64(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),
        pa.field("primary_customer_id", pa.string(), nullable=False),
    ]
)
RECORDS = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("is_duplicate", pa.bool_(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("altered", pa.string()),
        pa.field("created_at", TS, nullable=False),
        pa.field("email_bounces", pa.bool_(), nullable=False),
        pa.field("unsubscribed_at", TS),
    ]
)
DEVICES = pa.schema(
    [
        pa.field("anonymous_id", pa.string(), nullable=False),
        pa.field("person_id", pa.int64()),
        pa.field("customer_id", pa.string()),
        pa.field("device_type", pa.string(), nullable=False),
        pa.field("identified_at", TS),
    ]
)
ORDER_VALUES = pa.schema(
    [
        pa.field("order_id", pa.string(), nullable=False),
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("is_purchase", pa.bool_(), nullable=False),
        pa.field("gamma_gamma_value", money.DECIMAL, nullable=False),
    ]
)
CAMPAIGNS = pa.schema(
    [
        pa.field("campaign_id", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("sent_at", TS, nullable=False),
        pa.field("audience_share", pa.float64(), nullable=False),
    ]
)
SCHEMAS = {
    "persons": PERSONS,
    "records": RECORDS,
    "devices": DEVICES,
    "order_values": ORDER_VALUES,
    "campaigns": CAMPAIGNS,
}
ALTERATIONS = (
    "email_case",
    "email_missing",
    "email_plus_tag",
    "phone_format",
    "phone_missing",
    "first_name_typo",
    "last_name_typo",
    "address_missing",
)
_ALTERED = [
    ",".join(a for b, a in enumerate(ALTERATIONS) if k >> b & 1)
    for k in range(1 << len(ALTERATIONS))
]


def _lists(values: list[str], index: IntArray, valid: np.ndarray) -> pa.Array:  # type: ignore[type-arg]
    """A list<string> column: row i holds values[index[i, j]] for the valid j."""
    counts = valid.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    flat = strings.pick(values, index[valid])
    return pa.ListArray.from_arrays(pa.array(offsets), flat)


def persons_table(
    persons: Persons,
    purchases: Purchases,
    records: Records,
    devices: Devices,
    identities: Identities,
    catalog: Catalog,
    gg_p: float,
    customer_id: pa.Array,
    timeline: Timeline,
) -> pa.Table:
    """One row per person with every latent trait the data was drawn from."""
    n = persons.size
    pref = persons.category_pref
    tiers = persons.tier_pref
    city = identities.city
    record_count = np.bincount(records.person, minlength=n)
    device_count = np.bincount(devices.person[devices.person >= 0], minlength=n)
    brand_names = [b[0] for b in BRANDS]
    bounce = np.zeros(n, dtype=bool)
    bounce[records.person[records.bounces]] = True
    arrays = [
        pa.array(persons.index),
        timeline.timestamps(purchases.first_day),
        pa.array(persons.buyer),
        pa.array(persons.lam),
        pa.array(persons.p_drop),
        pa.array(purchases.repeats),
        pa.array(purchases.alive),
        timeline.timestamps(purchases.dropout_day, valid=~np.isnan(purchases.dropout_day)),
        pa.array(persons.nu),
        pa.array(gg_p / persons.nu),
        *[pa.array(pref[:, c]) for c in range(len(CATEGORIES))],
        strings.pick(list(CATEGORIES), pref.argmax(axis=1)),
        *[pa.array(tiers[:, t]) for t in range(len(TIERS))],
        pa.array(persons.brand_loyalty),
        _lists(
            brand_names, persons.favourite_brand, np.ones_like(persons.favourite_brand, dtype=bool)
        ),
        pa.array(persons.store_share),
        pa.array(persons.loyalty_member),
        pa.array(persons.discount_seeker),
        pa.array(persons.clearance_lover),
        pa.array(persons.return_prob),
        pa.array(persons.promo_prob),
        strings.pick(list(UPLIFT_CLASSES), persons.email_class),
        strings.pick(list(UPLIFT_CLASSES), persons.discount_class),
        pa.array(persons.open_prob),
        pa.array(persons.click_prob),
        pa.array(persons.unsubscribe_prob),
        pa.array(bounce),
        strings.pick([c.name for c in CITIES], city),
        strings.pick([c.state for c in CITIES], city),
        strings.pick([c.zone for c in CITIES], city),
        _lists(catalog.product_id, np.maximum(persons.staples, 0), persons.staples >= 0),
        pa.array(device_count.astype(np.int64)),
        pa.array(record_count.astype(np.int64)),
        customer_id.slice(0, n),
    ]
    return pa.Table.from_arrays(arrays, schema=PERSONS)


def records_table(
    records: Records,
    persons: Persons,
    customer_id: pa.Array,
    unsubscribed_day: FloatArray,
    timeline: Timeline,
) -> pa.Table:
    """customer_id -> person_id, with what each duplicate changed."""
    dup = records.kind != 0
    primary = records.person
    style = records.email_style
    phone_present = records.phone_style != NO_PHONE
    primary_phone = records.phone_style[primary] != NO_PHONE
    bits = [
        (style >= 1) & (style <= 3),
        (style == NO_EMAIL) & (style[primary] != NO_EMAIL),
        style == PLUS_TAG,
        phone_present & primary_phone & (records.phone_style != records.phone_style[primary]),
        ~phone_present & primary_phone,
        records.first_typo >= 0,
        records.last_typo >= 0,
        ~records.has_address & records.has_address[primary],
    ]
    flags = np.zeros(records.size, dtype=np.int64)
    for b, bit in enumerate(bits):
        flags |= bit.astype(np.int64) << b
    return pa.Table.from_arrays(
        [
            customer_id,
            pa.array(persons.index[records.person]),
            pa.array(dup),
            strings.pick(list(KINDS), records.kind),
            strings.pick(list(CUSTOMER_SOURCES), records.source),
            strings.where(dup, strings.pick(_ALTERED, np.where(dup, flags, 0))),
            timeline.timestamps(records.created),
            pa.array(records.bounces),
            timeline.timestamps(unsubscribed_day, valid=~np.isnan(unsubscribed_day)),
        ],
        schema=RECORDS,
    )


def devices_table(
    devices: Devices,
    persons: Persons,
    device_ids: pa.Array,
    customer_id: pa.Array,
    identified_day: FloatArray,
    timeline: Timeline,
) -> pa.Table:
    """Every anonymous id: whose device it is, which account it signs in to, and when."""
    owned = devices.person >= 0
    return pa.Table.from_arrays(
        [
            device_ids,
            pa.array(np.where(owned, persons.index[np.maximum(devices.person, 0)], 0), mask=~owned),
            customer_id.take(pa.array(np.maximum(devices.account, 0), mask=~owned)),
            strings.pick(["mobile", "desktop", "tablet"], devices.kind),
            timeline.timestamps(identified_day, valid=np.isfinite(identified_day)),
        ],
        schema=DEVICES,
    )


def order_values_table(
    order_ids: pa.Array, purchases: Purchases, baskets: Baskets, persons: Persons
) -> pa.Table:
    """Each order's Gamma-Gamma draw, beside the realized subtotal - discount in orders."""
    return pa.Table.from_arrays(
        [
            order_ids,
            pa.array(persons.index[purchases.person]),
            pa.array(~purchases.cancelled),
            money.decimals(baskets.target_cents),
        ],
        schema=ORDER_VALUES,
    )


def campaigns_table(campaigns: Campaigns, timeline: Timeline) -> pa.Table:
    """The e-mail calendar."""
    return pa.Table.from_arrays(
        [
            pa.array(campaigns.campaign_id),
            pa.array(campaigns.name),
            pa.array(campaigns.subject),
            timeline.timestamps(campaigns.day),
            pa.array(campaigns.audience),
        ],
        schema=CAMPAIGNS,
    )
