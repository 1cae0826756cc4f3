"""Customer records per person: the primary one and the CRM duplicates beside it.

Most persons have one record, created by the channel of their first touch. A few percent
have a second (and a few a third) under another customer_id, as source systems make them:
- `store_record`: a POS or loyalty record the stores use from its creation on;
- `second_account`: a second web account (another sign-up, a `+tag` address) that the
  person's newer device logs into, so online orders split between the two accounts;
- `crm_import`: a record from a CRM or customer-service import, with no orders.
Duplicates differ as such records do: e-mail case, a slip in a name, another phone format,
a missing e-mail or phone; the address stays the same.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray
from lifetide.synth.config import SynthConfig
from lifetide.synth.contacts import PHONE_STYLE_WEIGHTS
from lifetide.synth.people import Persons
from lifetide.synth.purchases import Purchases
from lifetide.warehouse.schema import CUSTOMER_SOURCES

KINDS = ("primary", "store_record", "second_account", "crm_import")
PRIMARY, STORE, ONLINE, CRM = 0, 1, 2, 3
ECOMMERCE, POS, CRM_SOURCE, LOYALTY = (
    CUSTOMER_SOURCES.index(s) for s in ("ecommerce", "pos", "crm", "loyalty")
)
# E-mail styles: how the address is written on the record.
EXACT, UPPER, CAPITALIZED, TITLE, NO_EMAIL, PLUS_TAG = range(6)
NO_PHONE = -1
TYPO_SHARE = 0.35
MINUTE = 1.0 / 1440


@dataclass(frozen=True)
class Records:
    """A chunk's customer records; records 0..n-1 are persons 0..n-1's primary records."""

    person: IntArray
    kind: IntArray
    source: IntArray  # index into schema.CUSTOMER_SOURCES
    created: FloatArray
    counter: IntArray  # unique over the data set; the customer_id is derived from it
    email_style: IntArray
    phone_style: IntArray  # 0-5 (contacts.phones), NO_PHONE
    first_typo: IntArray  # -1 or a contacts.typo kind
    last_typo: IntArray
    has_address: BoolArray
    has_birth_date: BoolArray
    opted_in: BoolArray  # e-mail consent when the record was created
    sms: BoolArray
    loyalty: BoolArray  # carries the person's loyalty card number
    bounces: BoolArray  # its address hard-bounces
    # Per person:
    store_record: IntArray  # the store_record duplicate, -1 if none
    online_record: IntArray  # the second_account duplicate, -1 if none
    web_account: BoolArray  # the person can sign in online with the primary record

    @property
    def size(self) -> int:
        """Number of records."""
        return len(self.person)

    def signed_up_by(self, first_sign_in: FloatArray) -> Records:
        """These records, each created no later than the first event signed in to it.

        A web account is made during the checkout or visit that first signs in to it, which
        can be a few minutes before the instant planned from the order.
        """
        return dataclasses.replace(self, created=np.minimum(self.created, first_sign_in))

    @property
    def has_email(self) -> BoolArray:
        """Records holding an e-mail address."""
        return np.asarray(self.email_style != NO_EMAIL)


def draw_records(
    config: SynthConfig,
    persons: Persons,
    purchases: Purchases,
    days: int,
    rng: np.random.Generator,
) -> Records:
    """Decide every record of the chunk's persons, duplicates included."""
    n = persons.size
    live = ~purchases.cancelled
    has_online = np.bincount(purchases.person[live & ~purchases.store], minlength=n) > 0
    has_store = np.bincount(purchases.person[live & purchases.store], minlength=n) > 0
    # The earliest order (a cancelled attempt included) is when a buyer's record was made.
    first = np.full(n, -1, dtype=np.int64)
    buyers, at = np.unique(purchases.person, return_index=True)  # orders sorted by person
    first[buyers] = at
    buyer = first >= 0
    first_store = np.where(buyer, purchases.store[np.maximum(first, 0)], False)
    source = np.where(
        buyer,
        np.where(first_store, np.where(persons.loyalty_member, LOYALTY, POS), ECOMMERCE),
        np.where(rng.random(n) < 0.75, ECOMMERCE, CRM_SOURCE),
    )
    lead = np.where(first_store, rng.uniform(0, 3, n), rng.uniform(2, 15, n)) * MINUTE
    created = np.where(
        buyer,
        np.maximum(purchases.day[np.maximum(first, 0)] - lead, 0.0),
        purchases.first_day,
    )

    # Duplicates: which persons, which kind.
    dup = rng.random(n) < config.duplicate_rate
    web_primary = source == ECOMMERCE
    u = rng.random(n)
    kind = np.where(
        has_online & has_store,
        np.where(u < 0.7, np.where(web_primary, STORE, ONLINE), CRM),
        np.where(
            has_online,
            np.where(u < 0.5, ONLINE, CRM),
            np.where(has_store, np.where(u < 0.6, STORE, CRM), np.where(u < 0.3, ONLINE, CRM)),
        ),
    )
    # A second web account needs a first one to forget.
    kind = np.where((kind == ONLINE) & ~(web_primary | has_online), CRM, kind)
    third = dup & (rng.random(n) < config.third_record_share)
    second_p = np.flatnonzero(dup)
    third_p = np.flatnonzero(third)
    dup_person = np.concatenate([second_p, third_p])
    dup_kind = np.concatenate([kind[second_p], np.full(len(third_p), CRM)])
    dup_rank = np.concatenate([np.zeros(len(second_p)), np.ones(len(third_p))]).astype(np.int64)
    dup_source = np.select(
        [dup_kind == STORE, dup_kind == ONLINE],
        [np.where(persons.loyalty_member[dup_person], LOYALTY, POS), ECOMMERCE],
        CRM_SOURCE,
    )
    lo = created[dup_person]
    dup_created = lo + rng.random(len(dup_person)) * np.maximum(days - 1 - lo, 0)

    n_dup = len(dup_person)
    person = np.concatenate([np.arange(n), dup_person])
    all_kind = np.concatenate([np.full(n, PRIMARY), dup_kind])
    all_source = np.concatenate([source, dup_source])
    counter = np.concatenate(
        [persons.index, config.customers + 2 * persons.index[dup_person] + dup_rank]
    )

    email_style = np.concatenate(
        [_primary_email_style(source, rng), _dup_email_style(dup_kind, rng)]
    )
    phone_style = _phone_styles(source, dup_person, dup_kind, rng)
    typo_on = rng.random(n_dup) < TYPO_SHARE
    on_first = rng.random(n_dup) < 0.5
    typo_kind = rng.integers(0, 4, n_dup)
    first_typo = np.concatenate([np.full(n, -1), np.where(typo_on & on_first, typo_kind, -1)])
    last_typo = np.concatenate([np.full(n, -1), np.where(typo_on & ~on_first, typo_kind, -1)])

    address = has_online | (rng.random(n) < 0.6)
    keep_address = np.select([dup_kind == STORE, dup_kind == ONLINE], [0.7, 1.0], 0.9)
    has_address = np.concatenate(
        [address, address[dup_person] & (rng.random(n_dup) < keep_address)]
    )
    birth = rng.random(n) < 0.6
    has_birth_date = np.concatenate([birth, birth[dup_person] & (rng.random(n_dup) < 0.6)])

    consent = rng.random(n) >= config.email_opt_out
    same = rng.random(n_dup) < 0.7
    dup_consent = np.where(same, consent[dup_person], rng.random(n_dup) >= config.email_opt_out)
    has_email = email_style != NO_EMAIL
    opted_in = np.concatenate([consent, dup_consent]) & has_email
    sms = (phone_style != NO_PHONE) & (rng.random(n + n_dup) < config.sms_opt_in)
    member = persons.loyalty_member[person]
    loyalty = member & (
        (all_source == LOYALTY) | ((all_kind == PRIMARY) & (rng.random(n + n_dup) < 0.5))
    )
    bounce = rng.random(n) < config.email_bounce

    store_record = np.full(n, -1, dtype=np.int64)
    online_record = np.full(n, -1, dtype=np.int64)
    dup_index = n + np.arange(n_dup)
    store_record[dup_person[dup_kind == STORE]] = dup_index[dup_kind == STORE]
    online_record[dup_person[dup_kind == ONLINE]] = dup_index[dup_kind == ONLINE]
    return Records(
        person=person,
        kind=all_kind,
        source=all_source,
        created=np.concatenate([created, dup_created]),
        counter=counter,
        email_style=email_style,
        phone_style=phone_style,
        first_typo=first_typo,
        last_typo=last_typo,
        has_address=has_address,
        has_birth_date=has_birth_date,
        opted_in=opted_in,
        sms=sms,
        loyalty=loyalty,
        bounces=bounce[person] & has_email,
        store_record=store_record,
        online_record=online_record,
        web_account=web_primary | has_online,
    )


def _primary_email_style(source: IntArray, rng: np.random.Generator) -> IntArray:
    """Web sign-ups always give an e-mail; tills and imports sometimes do not."""
    missing = np.select(
        [source == POS, source == LOYALTY, source == CRM_SOURCE], [0.35, 0.10, 0.05], 0.0
    )
    u = rng.random(len(source))
    style = np.where(u < 0.95, EXACT, np.where(u < 0.99, CAPITALIZED, UPPER))
    return np.where(rng.random(len(source)) < missing, NO_EMAIL, style).astype(np.int64)


def _dup_email_style(kind: IntArray, rng: np.random.Generator) -> IntArray:
    """Duplicates re-type the address (other case) or lack it; second accounts use a +tag."""
    u = rng.random(len(kind))
    style = np.select(
        [u < 0.20, u < 0.35, u < 0.60, u < 0.80], [EXACT, UPPER, CAPITALIZED, TITLE], NO_EMAIL
    )
    return np.where(kind == ONLINE, PLUS_TAG, style).astype(np.int64)


def _phone_styles(
    source: IntArray, dup_person: IntArray, dup_kind: IntArray, rng: np.random.Generator
) -> IntArray:
    """Primary records write the phone one way (or not at all); duplicates another way."""
    n = len(source)
    weights = PHONE_STYLE_WEIGHTS / PHONE_STYLE_WEIGHTS.sum()
    style = rng.choice(len(weights), size=n, p=weights)
    missing = np.select([source == ECOMMERCE, source == CRM_SOURCE], [0.30, 0.40], 0.05)
    primary = np.where(rng.random(n) < missing, NO_PHONE, style)
    base = np.where(primary[dup_person] >= 0, primary[dup_person], style[dup_person])
    other = (base + 1 + rng.integers(0, len(weights) - 1, len(dup_person))) % len(weights)
    dup_missing = np.where(dup_kind == ONLINE, 0.40, 0.20)
    dup = np.where(rng.random(len(dup_person)) < dup_missing, NO_PHONE, other)
    return np.concatenate([primary, dup]).astype(np.int64)


def store_order_records(records: Records, purchases: Purchases) -> IntArray:
    """The record each store order is booked on: the store record once it exists."""
    store_rec = records.store_record[purchases.person]
    use_dup = (store_rec >= 0) & (purchases.day >= records.created[np.maximum(store_rec, 0)])
    return np.where(use_dup, store_rec, purchases.person)
