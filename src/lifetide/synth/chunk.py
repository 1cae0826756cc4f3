"""One chunk of persons, from their traits to every table row they produce."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lifetide.synth import identifiers, truth
from lifetide.synth.baskets import fill_baskets
from lifetide.synth.campaigns import Campaigns, send_campaigns
from lifetide.synth.config import SynthConfig
from lifetide.synth.contacts import Identities
from lifetide.synth.customers import build_customers
from lifetide.synth.duplicates import draw_records, store_order_records
from lifetide.synth.events import Vocabulary, build_events
from lifetide.synth.orders import build_orders, cart_ids, home_stores, order_ids
from lifetide.synth.people import draw_persons
from lifetide.synth.places import CITIES, utc_offsets
from lifetide.synth.purchases import draw_purchases
from lifetide.synth.sessions import ORDER, plan_devices, plan_sessions
from lifetide.synth.shelves import Shelves
from lifetide.synth.steps import E_IDENTIFY, lay_out, signed_in
from lifetide.synth.streams import stream
from lifetide.synth.timeline import Timeline

TAX_PERCENT = np.array([c.tax_percent for c in CITIES])


@dataclass(frozen=True)
class World:
    """What every chunk shares: settings, calendar, catalog, everyone's identities, e-mail plan."""

    config: SynthConfig
    timeline: Timeline
    shelves: Shelves
    identities: Identities
    campaigns: Campaigns
    vocabulary: Vocabulary


def build_chunk(world: World, chunk: int, begin: int, end: int) -> dict[str, pa.Table]:
    """Every table's rows for persons begin..end-1 (truth tables under 'truth/<name>')."""
    config, timeline, shelves = world.config, world.timeline, world.shelves
    seed, days = config.seed, timeline.days
    catalog = shelves.catalog
    index = np.arange(begin, end, dtype=np.int64)
    who = world.identities.slice(begin, end)
    offsets = utc_offsets()[who.city]

    persons = draw_persons(config, index, days, shelves, stream(seed, "persons", chunk))
    purchases = draw_purchases(config, persons, days, offsets, stream(seed, "purchases", chunk))
    baskets = fill_baskets(
        config,
        persons,
        purchases,
        shelves,
        timeline,
        TAX_PERCENT[who.city],
        stream(seed, "baskets", chunk),
    )
    records = draw_records(config, persons, purchases, days, stream(seed, "records", chunk))
    mailings = send_campaigns(world.campaigns, records, persons, days, stream(seed, "email", chunk))

    web = stream(seed, "sessions", chunk)
    visitors = round(config.anonymous_visitors * persons.size)
    devices = plan_devices(persons, records, visitors, web)
    sessions = plan_sessions(
        config, persons, purchases, records, mailings, devices, days, offsets, web
    )
    events_rng = stream(seed, "events", chunk)
    steps = lay_out(sessions, persons, purchases, baskets, shelves, days, events_rng)
    step_device = sessions.device[steps.session]
    signed = signed_in(steps, step_device, devices.size)
    first_sign_in = np.full(records.size, np.inf)
    np.minimum.at(first_sign_in, devices.account[step_device[signed]], steps.day[signed])
    records = records.signed_up_by(first_sign_in)

    addresses = stream(seed, "addresses", chunk)
    customers, record_strings = build_customers(
        records, who, mailings.unsubscribed_day, timeline, addresses
    )
    # Store orders go on the store record once it exists; online orders on the account the
    # ordering device is signed in to.
    order_record = store_order_records(records, purchases)
    order_sessions = np.flatnonzero(sessions.kind == ORDER)
    placed = sessions.order[order_sessions]
    order_record[placed] = devices.account[sessions.device[order_sessions]]
    session_of_order = np.full(purchases.size, -1, dtype=np.int64)
    session_of_order[placed] = order_sessions
    o_ids = order_ids(chunk, purchases.size)
    carts = cart_ids(chunk, sessions.size)
    order_cart = carts.take(pa.array(np.maximum(session_of_order, 0), mask=session_of_order < 0))
    orders, items = build_orders(
        purchases,
        baskets,
        order_record,
        record_strings.customer_id,
        o_ids,
        order_cart,
        home_stores(who.city, addresses),
        catalog,
        timeline,
    )

    device_counter = np.int64(chunk) * identifiers.CHUNK_STRIDE + np.arange(
        devices.size, dtype=np.int64
    )
    device_noise = web.integers(0, np.iinfo(np.int64).max, devices.size, dtype=np.int64).astype(
        np.uint64
    )
    device_ids = identifiers.uuid_like(device_counter, device_noise, salt=0xDE71CE)
    events = build_events(
        chunk,
        steps,
        sessions,
        devices,
        signed,
        mailings,
        baskets,
        o_ids,
        carts,
        device_ids,
        record_strings,
        world.vocabulary,
        timeline,
        events_rng,
    )

    identified = np.full(devices.size, np.inf)
    ident = steps.code == E_IDENTIFY
    np.minimum.at(identified, step_device[ident], steps.day[ident])
    customer_id = record_strings.customer_id
    return {
        "customers": customers,
        "orders": orders,
        "order_items": items,
        "events": events,
        "truth/persons": truth.persons_table(
            persons, purchases, records, devices, who, catalog, config.gg_p, customer_id, timeline
        ),
        "truth/records": truth.records_table(
            records, persons, customer_id, mailings.unsubscribed_day, timeline
        ),
        "truth/devices": truth.devices_table(
            devices, persons, device_ids, customer_id, identified, timeline
        ),
        "truth/order_values": truth.order_values_table(o_ids, purchases, baskets, persons),
    }
