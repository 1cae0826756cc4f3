"""Reading identity evidence out of the warehouse: customer records and device links.

Normalization happens here, once per distinct value: e-mail through its match key (one mailbox,
however it is written), phones to E.164 through `phonenumbers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lifetide.identity import normalize


@dataclass(frozen=True)
class Evidence:
    """Customer records with normalized identifiers, and device-to-user links from events."""

    records: pa.Table
    links: pa.Table


_RECORDS_SQL = """
SELECT customer_id, source,
       lower(trim(email)) AS email,
       nullif(trim(phone), '') AS phone_raw,
       nullif(trim(loyalty_id), '') AS loyalty_id,
       first_name, last_name, birth_date, address_line1, city, region, postal_code, country,
       time_zone, accepts_email_marketing, accepts_sms_marketing,
       created_at, coalesce(updated_at, created_at) AS updated_at
FROM customers
ORDER BY customer_id
"""

# Every (device, user) pair seen together, with how often and when first: the first and most
# frequent link is the strongest claim on a shared device.
_LINKS_SQL = """
SELECT anonymous_id, user_id, count(*) AS seen, min(timestamp) AS first_seen
FROM events
WHERE anonymous_id IS NOT NULL AND user_id IS NOT NULL
GROUP BY anonymous_id, user_id
UNION ALL
SELECT json_extract_string(properties, '$.previous_id') AS anonymous_id, user_id,
       count(*) AS seen, min(timestamp) AS first_seen
FROM events
WHERE type = 'alias' AND user_id IS NOT NULL
      AND json_extract_string(properties, '$.previous_id') IS NOT NULL
GROUP BY 1, 2
ORDER BY first_seen, anonymous_id, user_id
"""


def read_evidence(con: Any) -> Evidence:
    """The records and links in the warehouse, identifiers normalized."""
    records = con.execute(_RECORDS_SQL).to_arrow_table()
    records = _with_normalized(records)
    links = con.execute(_LINKS_SQL).to_arrow_table()
    return Evidence(records=records, links=links)


def _with_normalized(records: pa.Table) -> pa.Table:
    emails = records.column("email").to_pylist()
    email_keys = _mapped(emails, normalize.email_match_key)
    valid_emails = _mapped(emails, normalize.email)
    phones = _mapped(records.column("phone_raw").to_pylist(), normalize.phone)
    last = _mapped(records.column("last_name").to_pylist(), normalize.name)
    first = _mapped(records.column("first_name").to_pylist(), normalize.name)
    out = records.set_column(
        records.schema.get_field_index("email"), "email", pa.array(valid_emails, pa.string())
    )
    for name, values in (
        ("email_key", email_keys),
        ("phone", phones),
        ("last_name_key", last),
        ("first_name_key", first),
    ):
        out = out.append_column(name, pa.array(values, pa.string()))
    return out


def _mapped(values: list[str | None], function: Any) -> list[str | None]:
    # Each distinct value once: a million records hold far fewer distinct names.
    cache: dict[str | None, str | None] = {None: None}
    out = []
    for value in values:
        if value not in cache:
            cache[value] = function(value)
        out.append(cache[value])
    return out
