"""The customers table: every record's identifiers and contact details as its source wrote them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifetide.synth import strings
from lifetide.synth.arraytypes import FloatArray, IntArray
from lifetide.synth.contacts import FIRST, Identities, phones, typo
from lifetide.synth.duplicates import (
    CAPITALIZED,
    EXACT,
    NO_EMAIL,
    NO_PHONE,
    PLUS_TAG,
    TITLE,
    UPPER,
    Records,
)
from lifetide.synth.identifiers import scramble
from lifetide.synth.names import LAST
from lifetide.synth.places import CITIES, STREET_NAMES, STREET_SUFFIX_WEIGHTS, STREET_SUFFIXES
from lifetide.synth.timeline import Timeline
from lifetide.warehouse import schema
from lifetide.warehouse.arrow import arrow_schema

# Each source system numbers its records its own way.
ID_PREFIXES = {"ecommerce": "E", "pos": "POS-", "crm": "CRM-", "loyalty": "LY-", "api": "API-"}
PLUS_TAGS = ("shop", "beauty", "orders", "deals")


@dataclass(frozen=True)
class RecordStrings:
    """What other tables need of each record: its id, and the e-mail and names it holds."""

    customer_id: pa.Array
    email: pa.Array
    first_name: pa.Array
    last_name: pa.Array


def customer_ids(records: Records) -> pa.Array:
    """The customer_id of each record: the source's prefix and a unique 9-digit number."""
    prefixes = [ID_PREFIXES[s] for s in schema.CUSTOMER_SOURCES]
    number = strings.fixed(strings.digits(scramble(records.counter, 9, salt=271_828_183), 9))
    return strings.join([strings.pick(prefixes, records.source), number])


def _styled_emails(base: pa.Array, style: IntArray, rng: np.random.Generator) -> pa.Array:
    """Addresses written as each record has them: case changed, +tagged, or missing."""
    n = len(style)
    tags = strings.pick([f"+{t}@" for t in PLUS_TAGS], rng.integers(0, len(PLUS_TAGS), n))
    parts = pc.split_pattern(base, "@", max_splits=1)
    local = pc.list_element(parts, 0)
    domain = pc.list_element(parts, 1)
    forms = {
        EXACT: base,
        UPPER: pc.utf8_upper(base),
        CAPITALIZED: pc.utf8_capitalize(base),
        TITLE: pc.utf8_title(base),
        NO_EMAIL: pa.nulls(n, pa.string()),
        PLUS_TAG: strings.join([local, tags, domain]),
    }
    return pc.choose(pa.array(style.astype(np.int8)), *(forms[k] for k in range(len(forms))))


def build_customers(
    records: Records,
    identities: Identities,
    unsubscribed_day: FloatArray,
    timeline: Timeline,
    rng: np.random.Generator,
) -> tuple[pa.Table, RecordStrings]:
    """The chunk's customer records, and the strings events reuse."""
    person = records.person
    n_persons = len(identities.first)
    ids = customer_ids(records)
    email = _styled_emails(identities.email.take(pa.array(person)), records.email_style, rng)

    phone_all = phones(
        identities.area_code[person],
        identities.phone_local[person],
        np.maximum(records.phone_style, 0),
    )
    phone = strings.where(records.phone_style != NO_PHONE, phone_all)
    first_name = typo(list(FIRST), identities.first[person], records.first_typo, rng)
    last_name = typo(list(LAST), identities.last[person], records.last_typo, rng)

    # Per person: home address and birth date, shared by all of their records.
    number = np.minimum(9_999, np.floor(rng.lognormal(5.5, 1.2, n_persons)).astype(np.int64) + 1)
    street = rng.integers(0, len(STREET_NAMES), n_persons)
    suffix = rng.choice(
        len(STREET_SUFFIXES), size=n_persons, p=STREET_SUFFIX_WEIGHTS / STREET_SUFFIX_WEIGHTS.sum()
    )
    apartment = rng.random(n_persons) < 0.25
    apt_text = pc.if_else(
        pa.array(apartment),
        strings.join(
            [
                " Apt ",
                strings.text(rng.integers(1, 40, n_persons)),
                strings.pick(["", "A", "B", "C"], rng.integers(0, 4, n_persons)),
            ]
        ),
        pa.scalar(""),
    )
    line1 = strings.join(
        [
            strings.text(number),
            " ",
            strings.pick(STREET_NAMES, street),
            " ",
            strings.pick(STREET_SUFFIXES, suffix),
            apt_text,
        ]
    )
    city = identities.city
    zip_base = np.array([c.zip_base for c in CITIES])[city]
    zip_span = np.array([c.zip_span for c in CITIES])[city]
    postal = strings.fixed(
        strings.digits(zip_base + rng.integers(0, 1 << 30, n_persons) % zip_span, 5)
    )
    # Ages outside 18-95 are drawn again within it: clipping piled everyone older onto one
    # birth date, which no real population has and which misled record matching.
    age_years = rng.gamma(9.0, 4.2, n_persons) + 16
    outside = (age_years < 18) | (age_years > 95)
    age_years[outside] = rng.uniform(18, 95, int(outside.sum()))
    end_epoch_day = (timeline.start_us // 86_400_000_000) + timeline.days
    birth_epoch_day = (end_epoch_day - age_years * 365.25).astype(np.int32)

    has_address = records.has_address
    take = pa.array(person)

    def at_home(values: pa.Array) -> pa.Array:
        return strings.where(has_address, values.take(take))

    # Loyalty cards belong to the person: number them by the person's global number.
    loyalty_number = scramble(records.counter[person], 11, salt=31_415_926)
    loyalty = strings.where(
        records.loyalty,
        strings.fixed(
            np.concatenate(
                [strings.literal("7", len(person)), strings.digits(loyalty_number, 11)], axis=1
            )
        ),
    )
    unsubscribed = ~np.isnan(unsubscribed_day)
    updated = np.where(unsubscribed, unsubscribed_day, records.created)
    table = pa.Table.from_arrays(
        [
            ids,
            strings.pick(list(schema.CUSTOMER_SOURCES), records.source),
            email,
            phone,
            first_name,
            last_name,
            pa.array(birth_epoch_day[person], type=pa.date32(), mask=~records.has_birth_date),
            at_home(line1),
            at_home(strings.pick([c.name for c in CITIES], city)),
            at_home(strings.pick([c.state for c in CITIES], city)),
            at_home(postal),
            strings.where(has_address, strings.pick(["US"], np.zeros(len(person), dtype=np.int64))),
            strings.pick([c.zone for c in CITIES], city[person]),
            loyalty,
            pa.array(records.opted_in & ~unsubscribed),
            pa.array(records.sms),
            timeline.timestamps(records.created),
            timeline.timestamps(updated),
        ],
        schema=arrow_schema(schema.CUSTOMERS),
    )
    return table, RecordStrings(ids, email, first_name, last_name)
