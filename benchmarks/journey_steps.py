"""Due journey steps: JourneyRunner.run_batch against one hand-written INSERT and UPDATE.

Part of benchmarks/journeys.py (see its docstring).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from sqlalchemy import DateTime, Integer, String, bindparam, func, select, text, update

from journey_shop import Shop, count_sends, profiled, say, vacuum
from lifetide.context import Lifetide
from lifetide.journeys.engine import JourneyEngine
from lifetide.ops.models import JourneyInstance

FIRST_VISITS = {"wait_an_hour": 1}
AFTER_VISITS = {"wait_an_hour": 1, "first_email": 1, "wait_engagement": 1}
SECOND_WAIT = dt.timedelta(minutes=1440)  # wait_engagement's timeout


def _typed(statement: str, **types: Any) -> Any:
    return text(statement).bindparams(
        *(bindparam(name, type_=kind) for name, kind in types.items())
    )


def peer_steps(app: Lifetide, shop: Shop) -> float:
    """The cart journey's due step as two hand-written statements in one transaction."""
    postgres = app.ops_engine.dialect.name == "postgresql"
    stamp = {"now": DateTime(timezone=True), "journey": Integer()}
    insert_sends = _typed(
        f"""
        INSERT INTO journey_sends (instance_id, journey_id, profile_id, idempotency_key, step,
            channel, template, marketing, offer, status, created_at, due_at, attempts)
        SELECT id, journey_id, profile_id, id || ':first_email:1', 'first_email', 'email',
            'cart-reminder', {"true" if postgres else "1"},
            {"CAST(:offer AS JSON)" if postgres else ":offer"}, 'pending', :now, :now, 0
        FROM journey_instances
        WHERE journey_id = :journey AND status = 'waiting' AND step = 'wait_an_hour'
          AND wake_at <= :now
        """,
        offer=String(),
        **stamp,
    )
    move = _typed(
        f"""
        UPDATE journey_instances
        SET step = 'wait_engagement', step_started_at = :now, wake_at = :timeout,
            visits = {"CAST(:visits AS JSON)" if postgres else ":visits"}
        WHERE journey_id = :journey AND status = 'waiting' AND step = 'wait_an_hour'
          AND wake_at <= :now
        """,
        timeout=DateTime(timezone=True),
        visits=String(),
        **stamp,
    )
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    with app.ops_engine.begin() as connection:
        connection.execute(
            insert_sends,
            {"offer": json.dumps(shop.first_email), "now": now, "journey": shop.journey_id},
        )
        connection.execute(
            move,
            {
                "now": now,
                "timeout": now + SECOND_WAIT,
                "visits": json.dumps(AFTER_VISITS),
                "journey": shop.journey_id,
            },
        )
    return time.perf_counter() - started


def reset_steps(app: Lifetide, shop: Shop, wake: dt.datetime) -> None:
    """Every instance back at its first wait, due; no sends."""
    with app.ops_engine.begin() as connection:
        connection.execute(
            _typed("DELETE FROM journey_sends WHERE journey_id = :journey", journey=Integer()),
            {"journey": shop.journey_id},
        )
        connection.execute(
            update(JourneyInstance)
            .where(JourneyInstance.journey_id == shop.journey_id)
            .values(
                step="wait_an_hour",
                status="waiting",
                visits=FIRST_VISITS,
                wake_at=wake,
                step_started_at=wake - dt.timedelta(hours=1),
                claimed_by=None,
                claimed_until=None,
                outcome=None,
                finished_at=None,
            )
        )
    vacuum(app)


def check_steps(app: Lifetide, shop: Shop, n: int, what: str) -> None:
    """Stop the run unless `n` instances moved to the second wait with `n` pending sends."""
    with app.sessions() as session:
        moved = session.scalar(
            select(func.count())
            .select_from(JourneyInstance)
            .where(
                JourneyInstance.journey_id == shop.journey_id,
                JourneyInstance.step == "wait_engagement",
                JourneyInstance.status == "waiting",
            )
        )
    pending = count_sends(app, shop.journey_id, "pending")
    if moved != n or pending != n:
        raise SystemExit(f"{what}: {moved} instances moved and {pending} sends, expected {n}")


def bench_steps(shop: Shop, n: int, limits: list[int], profile: bool) -> list[dict[str, Any]]:
    """Due cart steps: the runner per batch limit, and the hand-written SQL."""
    results: list[dict[str, Any]] = []
    with shop.open() as app:
        wake = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        shop.open_waiting(app, dict.fromkeys(range(1, n + 1), wake))
        vacuum(app)
        say(f"{shop.name}: steps peer")
        seconds = peer_steps(app, shop)
        check_steps(app, shop, n, "hand-written SQL")
        peer: dict[str, Any] = {
            "store": shop.name,
            "how": "peer: INSERT ... SELECT + UPDATE",
            "steps": n,
            "seconds": round(seconds, 2),
            "steps_per_s": round(n / seconds),
        }
        say(str(peer))
        for limit in limits:
            reset_steps(app, shop, wake)
            engine = JourneyEngine(app, f"bench-steps-{limit}")
            batches = 0
            say(f"{shop.name}: steps, batch limit {limit}")
            started = time.perf_counter()
            with profiled(profile and limit == limits[0]):
                while engine.runner.run_batch(limit).claimed:
                    batches += 1
            seconds = time.perf_counter() - started
            engine.close()
            check_steps(app, shop, n, f"runner, limit {limit}")
            results.append(
                {
                    "store": shop.name,
                    "how": f"JourneyRunner.run_batch({limit})",
                    "steps": n,
                    "batches": batches,
                    "seconds": round(seconds, 2),
                    "steps_per_s": round(n / seconds),
                    "ratio": round(seconds / peer["seconds"], 1),
                }
            )
            say(str(results[-1]))
        results.append(peer)
        shop.clear_journeys(app)
    return results


# -- e-mails ---------------------------------------------------------------------------------
