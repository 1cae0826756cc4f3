"""E-mails per second: the whole dispatcher against SmtpTransport alone, to the sink process.

Part of benchmarks/journeys.py (see its docstring).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from typing import Any

from sqlalchemy import select

from journey_shop import Shop, count_sends, cpu_seconds, profiled, say, vacuum
from lifetide.channels.messages import OutgoingEmail
from lifetide.channels.smtp import SmtpTransport
from lifetide.context import Lifetide
from lifetide.journeys.definition import Offer
from lifetide.journeys.engine import JourneyEngine
from lifetide.journeys.facts import people
from lifetide.messaging.compose import build_outgoing
from lifetide.messaging.links import Links
from lifetide.messaging.personalize import ContextRequest, MessageContexts
from lifetide.messaging.promos import CodeRequest, PromoCodes
from lifetide.messaging.template_store import TemplateStore
from lifetide.messaging.tokens import LinkSigner
from lifetide.ops.models import JourneyInstance, JourneySend


def build_messages(app: Lifetide, rows: list[Any]) -> list[OutgoingEmail]:
    """The sent messages of `rows` built again as the dispatcher builds them (same codes)."""
    settings = app.settings
    links = Links(settings.base_url, LinkSigner(settings.secret_key.get_secret_value()))
    template = TemplateStore(app.sessions, app.clock).get("cart-reminder")
    contexts = MessageContexts(app)
    promos = PromoCodes(app.sessions, app.clock)
    now = app.clock.now()
    built: list[OutgoingEmail] = []
    for start in range(0, len(rows), 200):
        batch = rows[start : start + 200]
        codes = promos.issue_many(
            [CodeRequest(r.key, r.profile_id, Offer.model_validate(r.offer)) for r in batch]
        )
        with app.sessions() as session:
            persons = people(session, {r.profile_id for r in batch})
        requests = [
            ContextRequest(r.profile_id, r.journey_id, r.step, r.instance_key, r.key, code)
            for r, code in zip(batch, codes, strict=True)
        ]
        for r, context in zip(batch, contexts.build(requests), strict=True):
            address = persons[r.profile_id].address("email") or ""
            message = build_outgoing(
                template,
                context,
                key=r.key,
                to=address,
                sender=settings.email_from,
                links=links,
                profile_id=r.profile_id,
                journey_id=r.journey_id,
                step=r.step,
                date=now,
            )
            built.append(message)
    return built


def transport_alone(url: str, connections: int, messages: list[OutgoingEmail], chunk: int) -> float:
    """Seconds SmtpTransport takes for `messages`, handed over `chunk` at a time."""
    loop = asyncio.new_event_loop()
    transport = SmtpTransport(url, connections=connections)
    try:
        started = time.perf_counter()
        outcomes: Counter[str] = Counter()
        for start in range(0, len(messages), chunk):
            results = loop.run_until_complete(transport.send(messages[start : start + chunk]))
            outcomes.update(r.outcome for r in results)
        seconds = time.perf_counter() - started
        loop.run_until_complete(transport.close())
    finally:
        loop.close()
    if outcomes != Counter({"sent": len(messages)}):
        raise SystemExit(f"the transport alone did not send everything: {outcomes}")
    return seconds


def bench_emails(shop: Shop, n: int, connections: int, profile: bool) -> list[dict[str, Any]]:
    """The full e-mail pipeline to the sink, and the transport alone, on `connections`."""
    with shop.open(smtp_connections=connections) as app:
        pids = shop.take(n)
        ids = shop.open_waiting(app, dict.fromkeys(pids, app.clock.now() - dt.timedelta(minutes=1)))
        engine = JourneyEngine(app, f"bench-emails-{connections}")
        while engine.runner.run_batch(2000).claimed:
            pass
        if count_sends(app, shop.journey_id, "pending") != n:
            raise SystemExit("the runner did not make one pending send per cart")
        vacuum(app)
        # Untimed, as a worker does it once: the builder process starts (and imports this
        # script's modules again: seconds of CPU) and the warehouse opens.
        if not engine.dispatcher.warm_up():
            raise SystemExit("the e-mail builder process did not start")
        shop.sink.forget()
        say(f"{shop.name}: {n} e-mails over {connections} connections")
        totals: Counter[str] = Counter()
        rounds = 0
        cpu_before = cpu_seconds(shop.sink)
        started = time.perf_counter()
        with profiled(profile):
            while (result := engine.dispatcher.dispatch()).claimed:
                rounds += 1
                totals.update({k: v for k, v in vars(result).items() if k != "claimed"})
        seconds = time.perf_counter() - started
        shop.sink.read()  # the sink's last lines are written: its CPU for them is spent
        cpu_after = cpu_seconds(shop.sink)
        engine.close()
        shop.sink.read()
        keys = {f"{ids[p]}:first_email:1" for p in pids}
        missing = keys - set(shop.sink.arrived)
        if totals["sent"] != n or missing:
            raise SystemExit(
                f"pipeline: {dict(totals)}; {len(missing)} keys never reached the sink"
            )
        sizes = shop.sink.sizes[-n:]
        full: dict[str, Any] = {
            "store": shop.name,
            "connections": connections,
            "emails": n,
            "rounds": rounds,
            "mean_kib": round(sum(sizes) / len(sizes) / 1024, 1),
            "seconds": round(seconds, 2),
            "emails_per_s": round(n / seconds),
            # CPU milliseconds per e-mail of each process: steadier than e-mails/s on a busy
            # machine, and what says which process is the bottleneck.
            **{
                f"cpu_ms_{role}": round((cpu_after[role] - cpu_before[role]) * 1000 / n, 2)
                for role in cpu_after
            },
        }
        say(str(full))
        with app.sessions() as session:
            rows = session.execute(
                select(
                    JourneySend.idempotency_key.label("key"),
                    JourneySend.profile_id,
                    JourneySend.journey_id,
                    JourneySend.step,
                    JourneySend.offer,
                    JourneyInstance.instance_key,
                )
                .join(JourneyInstance, JourneyInstance.id == JourneySend.instance_id)
                .where(JourneySend.idempotency_key.in_(keys))
                .order_by(JourneySend.id)
            ).all()
        started = time.perf_counter()
        messages = build_messages(app, list(rows))
        build = time.perf_counter() - started
        ceiling = transport_alone(shop.sink.url, connections, messages, len(messages))
        chunked = transport_alone(shop.sink.url, connections, messages, 4 * connections)
        shop.sink.read()
    peers = {
        "build_per_s": round(n / build),
        "transport_per_s": round(n / ceiling),
        "transport_chunked_per_s": round(n / chunked),
        "ratio": round(full["emails_per_s"] / (n / ceiling), 2),
    }
    say(str(peers))
    return [{**full, **peers}]


# -- latency ---------------------------------------------------------------------------------
