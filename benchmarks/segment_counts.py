"""Live segment counts on a scored retailer: our compiled Ibis query against hand-written SQL.

    .venv/bin/python benchmarks/segment_counts.py --data-dir DIR [--repeat 9]

DIR holds an imported, resolved and scored retailer (benchmarks/generate_import.py, then
`lifetide identity resolve` and `lifetide score`). Each question is asked two ways in the same
process, alternating, `--repeat` times: the segment definition through our compiler (what the
Studio's live count runs), and the same question written by hand in DuckDB SQL. Both counts
must agree. Prints p50 and p90 of each, and the ratio of the p50s, as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from lifetide.segments.compiler import members
from lifetide.segments.rules import Definition
from lifetide.segments.tables import segment_tables
from lifetide.warehouse.connection import Warehouse

RECORDS = "k.kind IN ('user_id', 'crm_id')"
# Events mapped to profiles by user id, else device, as the compiler does.
EVENT_PROFILES = """
    SELECT coalesce(r.profile_id, d.profile_id) AS profile_id, e.event, e.timestamp
    FROM events e
    LEFT JOIN (SELECT value, profile_id FROM profile_keys WHERE kind IN ('user_id', 'crm_id')) r
      ON r.value = e.user_id
    LEFT JOIN (SELECT value, profile_id FROM profile_keys WHERE kind = 'anonymous_id') d
      ON d.value = e.anonymous_id
    WHERE {where}
"""


def questions(now: dt.datetime) -> list[dict[str, Any]]:
    """(name, kind, definition, hand-written SQL) for each question measured."""
    ts = f"TIMESTAMP '{now:%Y-%m-%d %H:%M:%S.%f}'"
    d7 = f"TIMESTAMP '{now - dt.timedelta(days=7):%Y-%m-%d %H:%M:%S.%f}'"
    d30 = f"TIMESTAMP '{now - dt.timedelta(days=30):%Y-%m-%d %H:%M:%S.%f}'"
    d365 = f"TIMESTAMP '{now - dt.timedelta(days=365):%Y-%m-%d %H:%M:%S.%f}'"
    return [
        {
            "name": "profile and predictions: US, active or loyal, CLV above 100",
            "kind": "profile",
            "rule": {
                "type": "group",
                "op": "and",
                "children": [
                    {"type": "trait", "field": "country", "op": "eq", "value": "US"},
                    {
                        "type": "prediction",
                        "field": "lifecycle_stage",
                        "op": "in",
                        "value": ["active", "loyal"],
                    },
                    {"type": "prediction", "field": "clv_12m", "op": "gt", "value": 100},
                ],
            },
            "sql": """
                SELECT count(*) FROM profiles p JOIN predictions s USING (profile_id)
                WHERE lower(p.country) = 'us' AND s.lifecycle_stage IN ('active', 'loyal')
                  AND s.clv_12m > 100
            """,
        },
        {
            "name": "profile and predictions: e-mail consent, future top 20%, P(alive) < 0.5",
            "kind": "profile",
            "rule": {
                "type": "group",
                "op": "and",
                "children": [
                    {"type": "trait", "field": "email_consent", "op": "is_true"},
                    {"type": "prediction", "field": "future_top20", "op": "is_true"},
                    {"type": "prediction", "field": "p_alive", "op": "lt", "value": 0.5},
                ],
            },
            "sql": """
                SELECT count(*) FROM profiles p JOIN predictions s USING (profile_id)
                WHERE p.email_consent AND s.future_top20 AND s.p_alive < 0.5
            """,
        },
        {
            "name": "added to cart in 7 days and no order since",
            "kind": "behaviour",
            "rule": {
                "type": "sequence",
                "did": {"event": "Product Added"},
                "not_after": {"event": "Order Completed"},
                "window": {"kind": "last_days", "days": 7},
            },
            "sql": f"""
                WITH added AS (
                    SELECT profile_id, max(timestamp) AS last_add FROM ({
                EVENT_PROFILES.format(
                    where=f"e.event = 'Product Added' AND e.timestamp >= {d7} "
                    f"AND e.timestamp <= {ts}"
                )
            }) a WHERE profile_id IS NOT NULL GROUP BY profile_id
                ), ordered AS (
                    SELECT profile_id, max(timestamp) AS last_order FROM ({
                EVENT_PROFILES.format(
                    where=f"e.event = 'Order Completed' AND e.timestamp >= {d7} "
                    f"AND e.timestamp <= {ts}"
                )
            }) o WHERE profile_id IS NOT NULL GROUP BY profile_id
                )
                SELECT count(*) FROM profiles p JOIN added a USING (profile_id)
                LEFT JOIN ordered o USING (profile_id)
                WHERE o.last_order IS NULL OR o.last_order < a.last_add
            """,
        },
        {
            "name": "viewed products at least 3 times in 30 days",
            "kind": "behaviour",
            "rule": {
                "type": "event",
                "event": "Product Viewed",
                "count_op": "at_least",
                "count": 3,
                "window": {"kind": "last_days", "days": 30},
            },
            "sql": f"""
                SELECT count(*) FROM profiles WHERE profile_id IN (
                    SELECT profile_id FROM ({
                EVENT_PROFILES.format(
                    where=f"e.event = 'Product Viewed' AND e.timestamp >= {d30} "
                    f"AND e.timestamp <= {ts}"
                )
            }) v WHERE profile_id IS NOT NULL GROUP BY profile_id HAVING count(*) >= 3)
            """,
        },
        {
            "name": "bought skincare at least twice in 365 days",
            "kind": "behaviour",
            "rule": {
                "type": "purchase",
                "measure": "count",
                "op": "gte",
                "value": 2,
                "filters": {"categories": ["skincare"]},
                "window": {"kind": "last_days", "days": 365},
            },
            "sql": f"""
                SELECT count(*) FROM profiles WHERE profile_id IN (
                    SELECT k.profile_id FROM orders o
                    JOIN profile_keys k ON k.value = o.customer_id AND {RECORDS}
                    JOIN order_items i ON i.order_id = o.order_id
                    WHERE o.status <> 'cancelled' AND o.ordered_at >= {d365}
                      AND o.ordered_at <= {ts} AND i.category = 'skincare'
                    GROUP BY k.profile_id HAVING count(DISTINCT o.order_id) >= 2)
            """,
        },
    ]


def timed(run: Any) -> tuple[float, int]:
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, int(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    warehouse = Warehouse(f"duckdb://{(args.data_dir / 'warehouse.duckdb').resolve()}")
    con = warehouse.duckdb
    tables = segment_tables(warehouse.backend)
    # "Now" is the end of the data, so windows hold a realistic amount of activity.
    now = con.execute("SELECT max(timestamp) FROM events").fetchone()[0]
    counts = con.execute(
        "SELECT (SELECT count(*) FROM profiles), (SELECT count(*) FROM events), "
        "(SELECT count(*) FROM orders)"
    ).fetchone()
    results: list[dict[str, Any]] = []
    for question in questions(now):
        rule = Definition.model_validate({"root": question["rule"]}).root
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(args.repeat):
            # Compiling is part of every live count, so it is inside the timing.
            ours_s, ours_n = timed(
                lambda: members(rule, tables, now).count().to_pyarrow().as_py()  # noqa: B023
            )
            sql = question["sql"]
            theirs_s, theirs_n = timed(lambda: con.execute(sql).fetchone()[0])  # noqa: B023
            if ours_n != theirs_n:
                raise SystemExit(f"{question['name']}: ours {ours_n} != hand-written {theirs_n}")
            ours.append(ours_s)
            theirs.append(theirs_s)
        p50, hand = statistics.median(ours), statistics.median(theirs)
        results.append(
            {
                "question": question["name"],
                "kind": question["kind"],
                "members": ours_n,
                "ours_p50_ms": round(p50 * 1000, 1),
                "ours_p90_ms": round(sorted(ours)[int(0.9 * (len(ours) - 1))] * 1000, 1),
                "hand_sql_p50_ms": round(hand * 1000, 1),
                "ratio": round(p50 / hand, 2),
            }
        )
        print(json.dumps(results[-1]), flush=True)
    print(
        json.dumps(
            {
                "date": dt.date.today().isoformat(),
                "machine": f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}",
                "profiles": counts[0],
                "events": counts[1],
                "orders": counts[2],
                "now": str(now),
                "repeat": args.repeat,
            }
        )
    )
    warehouse.close()


if __name__ == "__main__":
    main()
