"""Which profile each warehouse record and device belongs to, copied into the warehouse.

Identity resolution keeps profiles in the operational database; the models run in the
warehouse. Before scoring, the mapping is copied across as `profile_keys` (record ids and
anonymous ids to profile ids) and `profiles` (every live profile, buyers or not, with the
traits and consents segments test), streamed in Arrow batches so a million profiles never sit
in Python objects at once. `lifetide identity resolve` and `lifetide score` both run it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from lifetide.clock import naive_utc
from lifetide.measure import placed
from lifetide.ops.models import Consent, Customer, Identity
from lifetide.warehouse.connection import Warehouse
from lifetide.warehouse.schema import DEVICE_KIND, RECORD_KINDS

BATCH_ROWS = 200_000

PROFILE_KEYS_SCHEMA = pa.schema(
    [("kind", pa.string()), ("value", pa.string()), ("profile_id", pa.int64())]
)
# The profile row as it leaves the operational database; traits from the resolved record.
RAW_PROFILES_SCHEMA = pa.schema(
    [
        ("profile_id", pa.int64()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("country", pa.string()),
        ("region", pa.string()),
        ("city", pa.string()),
        ("postal_code", pa.string()),
        ("time_zone", pa.string()),
        ("birth_date", pa.date32()),
        ("resolved_at", pa.timestamp("us")),
        ("email_consent", pa.bool_()),
        ("sms_consent", pa.bool_()),
    ]
)


class NoProfiles(Exception):
    """Scoring needs resolved profiles and there are none."""


def _batches(rows: Iterator[Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    names = schema.names
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == BATCH_ROWS:
            yield _batch(chunk, names, schema)
            chunk = []
    if chunk:
        yield _batch(chunk, names, schema)


def _batch(chunk: list[Any], names: list[str], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*chunk, strict=True))
    return pa.RecordBatch.from_arrays(
        [pa.array(col, type=schema.field(n).type) for n, col in zip(names, columns, strict=True)],
        schema=schema,
    )


def sync_profiles(session: Session, warehouse: Warehouse) -> int:
    """Copy live profiles and their record and device keys into the warehouse; the count."""
    con = warehouse.duckdb
    keys = session.execute(
        select(Identity.kind, Identity.value, Identity.customer_id)
        .join(Customer, Customer.id == Identity.customer_id)
        .where(Identity.kind.in_((*RECORD_KINDS, DEVICE_KIND)))
        .where(Customer.merged_into_id.is_(None))
        .execution_options(yield_per=BATCH_ROWS)
    )
    _replace(
        con,
        "profile_keys",
        pa.RecordBatchReader.from_batches(
            PROFILE_KEYS_SCHEMA, _batches(iter(keys), PROFILE_KEYS_SCHEMA)
        ),
    )
    # Orders follow their customers to the profiles they now belong to (merges included).
    placed.rebuild(con)
    email, sms = aliased(Consent), aliased(Consent)
    profiles = session.execute(
        select(
            Customer.id,
            Customer.email,
            Customer.phone,
            Customer.first_name,
            Customer.last_name,
            Customer.country,
            # Read out of the JSON by the database: decoding a million documents in Python
            # was most of the copy's time.
            Customer.traits["region"].as_string(),
            Customer.traits["city"].as_string(),
            Customer.traits["postal_code"].as_string(),
            Customer.time_zone,
            Customer.traits["birth_date"].as_string(),
            Customer.created_at,
            # Consents joined here rather than read as rows of their own: one pass, not two.
            email.status,
            sms.status,
        )
        .outerjoin(email, _consent_on(email, "email"))
        .outerjoin(sms, _consent_on(sms, "sms"))
        .where(Customer.merged_into_id.is_(None))
        .execution_options(yield_per=BATCH_ROWS)
    )
    _replace(
        con,
        "_lifetide_raw_profiles",
        pa.RecordBatchReader.from_batches(
            RAW_PROFILES_SCHEMA, _batches(map(_profile_row, profiles), RAW_PROFILES_SCHEMA)
        ),
        temp=True,
    )
    # A profile was created when its first source record was, not when resolution ran.
    con.execute(
        """
        CREATE OR REPLACE TABLE profiles AS
        WITH first_record AS (
            SELECT k.profile_id, min(c.created_at) AS created_at
            FROM profile_keys k JOIN customers c ON c.customer_id = k.value
            WHERE k.kind IN ('user_id', 'crm_id')
            GROUP BY k.profile_id
        )
        SELECT r.profile_id, r.email,
               lower(nullif(split_part(r.email, '@', 2), '')) AS email_domain,
               r.phone, r.first_name, r.last_name, r.country, r.region, r.city,
               r.postal_code, r.time_zone, r.birth_date,
               coalesce(f.created_at, r.resolved_at) AS created_at,
               r.email_consent, r.sms_consent
        FROM _lifetide_raw_profiles r
        LEFT JOIN first_record f USING (profile_id)
        ORDER BY r.profile_id
        """
    )
    count = int(con.execute("SELECT count(*) FROM profiles").fetchone()[0])
    if count == 0:
        raise NoProfiles(
            "there are no customer profiles to score: import customers and orders, then run "
            "`lifetide identity resolve`"
        )
    return count


def _consent_on(consent: Any, channel: str) -> Any:
    return (
        (consent.customer_id == Customer.id)
        & (consent.channel == channel)
        & (consent.purpose == "marketing")
    )


def _profile_row(row: Any) -> tuple[Any, ...]:
    *traits, birth, created, email_status, sms_status = row
    moment = naive_utc(created)
    return (*traits, _date(birth), moment, _granted(email_status), _granted(sms_status))


def _granted(status: str | None) -> bool | None:
    return None if status is None else status == "granted"


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _replace(con: Any, name: str, reader: pa.RecordBatchReader, temp: bool = False) -> None:
    # DuckDB scans the reader as it is consumed: the batches stream from SQLAlchemy.
    con.register("__lifetide_incoming", reader)
    kind = "TEMP TABLE" if temp else "TABLE"
    try:
        con.execute(f"CREATE OR REPLACE {kind} {name} AS SELECT * FROM __lifetide_incoming")
    finally:
        con.unregister("__lifetide_incoming")
