"""One customer on one page: who they are, what we predict, and what they did, newest first.

The profile, identifiers and consents come from the operational database (the truth about
identity); predictions, recommendations, events and orders from the warehouse, matched by the
profile's record ids (`user_id`, `crm_id`) and devices (`anonymous_id`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
from sqlalchemy import select
from sqlalchemy.orm import Session

from lifetide.context import Lifetide
from lifetide.identity import normalize
from lifetide.messaging.suppressions import of_profile_in
from lifetide.ops.models import Customer, Identity, JourneyInstance, JourneyRecord, JourneySend
from lifetide.warehouse.schema import DEVICE_KIND, RECORD_KINDS

TIMELINE_LIMIT = 200
MESSAGES_LIMIT = 100
RECOMMENDATIONS = 10
# E-mail events shown as messages, with their campaign.
MESSAGE_EVENTS = (
    "Email Delivered",
    "Email Opened",
    "Email Link Clicked",
    "Email Bounced",
    "Email Unsubscribed",
)
# Typed event columns worth showing next to an event's name.
EVENT_DETAILS = ("product_id", "category", "brand", "price", "quantity", "order_id", "revenue")
SUMMARY_CHARS = 160
MAX_PROFILE_ID = 2**63 - 1


class CustomerNotFound(LookupError):
    """No profile has the id asked for."""


@dataclass(frozen=True)
class Identifier:
    """One identifier of the profile and where it came from."""

    kind: str
    value: str
    source: str | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


@dataclass(frozen=True)
class ConsentState:
    """Whether the profile may get marketing on a channel."""

    channel: str
    purpose: str
    status: str
    source: str | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class Recommendation:
    """A product recommended to the profile, with what the catalog says about it."""

    rank: int
    product_id: str
    name: str | None
    category: str | None
    brand: str | None
    price: float | None
    score: float | None
    source: str | None


@dataclass(frozen=True)
class TimelineItem:
    """Something the customer did or was sent: an event, an order or a message."""

    kind: str  # event | order | message
    at: dt.datetime
    title: str
    details: dict[str, Any]


@dataclass(frozen=True)
class MessageRecord:
    """A message a journey meant to send the customer: what the policy decided, what they did."""

    key: str
    journey_id: int
    journey: str | None
    step: str
    channel: str
    template: str
    marketing: bool
    status: str
    reason: str | None
    address: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    opened_at: dt.datetime | None
    clicked_at: dt.datetime | None
    bounced_at: dt.datetime | None
    converted_at: dt.datetime | None
    order_id: str | None
    revenue: float | None
    promo_code: str | None


@dataclass(frozen=True)
class SuppressionState:
    """An address of the customer's that must not get (some) messages, and why."""

    channel: str
    address: str
    reason: str
    detail: str | None
    source: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class CustomerView:
    """Everything the Studio's customer page shows."""

    profile_id: int
    requested_id: int
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    country: str | None
    time_zone: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    traits: dict[str, Any]
    identifiers: tuple[Identifier, ...]
    consents: tuple[ConsentState, ...]
    predictions: dict[str, Any] | None
    recommendations: tuple[Recommendation, ...]
    timeline: tuple[TimelineItem, ...]
    messages: tuple[MessageRecord, ...] = ()
    suppressions: tuple[SuppressionState, ...] = ()

    @property
    def merged(self) -> bool:
        """Whether the profile asked for was merged into this one."""
        return self.profile_id != self.requested_id

    def to_json(self) -> dict[str, Any]:
        """The view as plain JSON types: times and dates as ISO 8601, money as numbers."""
        data = _plain(asdict(self))
        data["merged"] = self.merged
        assert isinstance(data, dict)
        return data


@dataclass(frozen=True)
class CustomerMatch:
    """A profile found by a search, and what it matched on."""

    profile_id: int
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    country: str | None
    matched_on: str

    def to_json(self) -> dict[str, Any]:
        """The match as a JSON object."""
        return asdict(self)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def survivor_id(session: Session, profile_id: int) -> int | None:
    """The live profile that `profile_id` is or was merged into; None if there is none."""
    seen: set[int] = set()
    current = session.get(Customer, profile_id)
    while current is not None and current.merged_into_id is not None and current.id not in seen:
        seen.add(current.id)
        current = session.get(Customer, current.merged_into_id)
    return current.id if current is not None else None


def customer_view(lifetide: Lifetide, profile_id: int) -> CustomerView:
    """The customer page of a profile (or of the profile it was merged into)."""
    with lifetide.sessions() as session:
        live = survivor_id(session, profile_id)
        customer = session.get(Customer, live) if live is not None else None
        if customer is None:
            raise CustomerNotFound(f"no customer profile {profile_id}")
        identifiers = tuple(
            Identifier(i.kind, i.value, i.source, i.first_seen_at, i.last_seen_at)
            for i in sorted(customer.identities, key=lambda i: (i.kind, i.value))
        )
        consents = tuple(
            ConsentState(c.channel, c.purpose, c.status, c.source, c.updated_at)
            for c in sorted(customer.consents, key=lambda c: (c.channel, c.purpose))
        )
        people = _merged_into(session, customer.id)
        messages = _messages(session, people)
        suppressions = tuple(
            SuppressionState(s.channel, s.address, s.reason, s.detail, s.source, s.created_at)
            for s in of_profile_in(session, people)
        )
    backend = lifetide.warehouse.thread_backend()
    names = set(backend.list_tables())
    records = [i.value for i in identifiers if i.kind in RECORD_KINDS]
    devices = [i.value for i in identifiers if i.kind == DEVICE_KIND]
    return CustomerView(
        profile_id=customer.id,
        requested_id=profile_id,
        email=customer.email,
        phone=customer.phone,
        first_name=customer.first_name,
        last_name=customer.last_name,
        country=customer.country,
        time_zone=customer.time_zone,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        traits=dict(customer.traits or {}),
        identifiers=identifiers,
        consents=consents,
        predictions=_predictions(backend, names, customer.id),
        recommendations=_recommendations(backend, names, customer.id),
        timeline=_timeline(backend, records, devices),
        messages=messages,
        suppressions=suppressions,
    )


def _merged_into(session: Session, profile_id: int) -> list[int]:
    """The profile and every profile merged into it (messages follow the person)."""
    found, todo = [profile_id], [profile_id]
    while todo:
        merged = list(session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(todo))))
        todo = [m for m in merged if m not in found]
        found.extend(todo)
    return found


def _messages(session: Session, profile_ids: list[int]) -> tuple[MessageRecord, ...]:
    """The profiles' journey sends, newest first, with the journey's name."""
    query = (
        select(JourneySend, JourneyInstance.journey_id, JourneyRecord.name)
        .join(JourneyInstance, JourneyInstance.id == JourneySend.instance_id)
        .outerjoin(JourneyRecord, JourneyRecord.id == JourneyInstance.journey_id)
        .where(JourneySend.profile_id.in_(profile_ids))
        .order_by(JourneySend.created_at.desc(), JourneySend.id.desc())
        .limit(MESSAGES_LIMIT)
    )
    return tuple(
        MessageRecord(
            key=send.idempotency_key,
            journey_id=int(journey_id),
            journey=name,
            step=send.step,
            channel=send.channel,
            template=send.template,
            marketing=bool(send.marketing),
            status=send.status,
            reason=send.reason,
            address=send.address,
            created_at=send.created_at,
            sent_at=send.sent_at,
            opened_at=send.opened_at,
            clicked_at=send.clicked_at,
            bounced_at=send.bounced_at,
            converted_at=send.converted_at,
            order_id=send.order_id,
            revenue=send.revenue,
            promo_code=send.promo_code,
        )
        for send, journey_id, name in session.execute(query)
    )


def _rows(expr: ir.Table) -> list[dict[str, Any]]:
    return list(expr.to_pyarrow().to_pylist())


def _predictions(backend: Any, names: set[str], profile_id: int) -> dict[str, Any] | None:
    if "predictions" not in names:
        return None
    table = backend.table("predictions")
    rows = _rows(table.filter(table.profile_id == profile_id).limit(1))
    return rows[0] if rows else None


def _recommendations(backend: Any, names: set[str], profile_id: int) -> tuple[Recommendation, ...]:
    if "recommendations" not in names:
        return ()
    recs = backend.table("recommendations")
    mine = recs.filter(recs.profile_id == profile_id)
    products = backend.table("products").select("product_id", "name", "category", "brand", "price")
    joined = mine.left_join(products, "product_id")
    picked = joined.select(
        "rank", "product_id", "name", "category", "brand", "price", "score", "source"
    )
    rows = _rows(picked.order_by("rank").limit(RECOMMENDATIONS))
    return tuple(
        Recommendation(
            rank=int(r["rank"]),
            product_id=r["product_id"],
            name=r["name"],
            category=r["category"],
            brand=r["brand"],
            price=float(r["price"]) if r["price"] is not None else None,
            score=float(r["score"]) if r["score"] is not None else None,
            source=r["source"],
        )
        for r in rows
    )


def _timeline(backend: Any, records: list[str], devices: list[str]) -> tuple[TimelineItem, ...]:
    items: list[TimelineItem] = []
    order_ids: set[str] = set()
    if records:
        orders = backend.table("orders")
        lines = backend.table("order_items")
        counts = lines.group_by("order_id").aggregate(items=lines.quantity.sum())
        mine = orders.filter(orders.customer_id.isin(records))
        newest = mine.order_by([ibis.desc("ordered_at"), ibis.desc("order_id")]).limit(
            TIMELINE_LIMIT
        )
        joined = newest.left_join(counts, "order_id")
        picked = joined.select(
            "order_id", "ordered_at", "channel", "status", "total", "promo_code", "items"
        )
        for row in _rows(picked):
            order_ids.add(row["order_id"])
            items.append(_order_item(row))
    if records or devices:
        newest = (
            _profile_events(backend.table("events"), records, devices)
            .order_by([ibis.desc("timestamp"), ibis.desc("message_id")])
            .limit(TIMELINE_LIMIT)
        )
        picked = newest.select(
            "timestamp", "type", "event", "campaign_id", "properties", *EVENT_DETAILS
        )
        for row in _rows(picked):
            # The order itself is on the timeline already, with more to say.
            if row["event"] == "Order Completed" and row["order_id"] in order_ids:
                continue
            items.append(_event_item(row))
    items.sort(key=lambda i: i.at, reverse=True)
    return tuple(items[:TIMELINE_LIMIT])


def _profile_events(events: ir.Table, records: list[str], devices: list[str]) -> ir.Table:
    """The events of these user ids, and those of these devices sent without a user id.

    An event with a user id is that user's, even on a device someone else used too. Two
    filters in a UNION ALL rather than one OR: DuckDB pushes each into the scan and reads the
    wide columns only for the rows found (10x faster on 40M events).
    """
    parts = []
    if records:
        parts.append(events.filter(events.user_id.isin(records)))
    if devices:
        parts.append(events.filter(events.anonymous_id.isin(devices), events.user_id.isnull()))
    return parts[0] if len(parts) == 1 else ibis.union(*parts)


def _order_item(row: dict[str, Any]) -> TimelineItem:
    details = {
        "order_id": row["order_id"],
        "channel": row["channel"],
        "status": row["status"],
        "total": float(row["total"]),
        "items": int(row["items"] or 0),
        "promo_code": row["promo_code"],
    }
    return TimelineItem("order", row["ordered_at"], f"Order {row['order_id']}", details)


def _event_item(row: dict[str, Any]) -> TimelineItem:
    name = row["event"] or row["type"]
    if row["event"] in MESSAGE_EVENTS:
        return TimelineItem("message", row["timestamp"], name, {"campaign_id": row["campaign_id"]})
    details: dict[str, Any] = {
        k: (float(row[k]) if isinstance(row[k], Decimal) else row[k])
        for k in EVENT_DETAILS
        if row[k] is not None
    }
    details["summary"] = _summary(row["properties"])
    return TimelineItem("event", row["timestamp"], name, details)


def _summary(properties: Any) -> str:
    """The event's simple properties as `key: value, ...`, cut short for a timeline line."""
    if isinstance(properties, str):
        text: str = properties
        try:
            properties = json.loads(text)
        except ValueError:
            return text[:SUMMARY_CHARS]
    if not isinstance(properties, dict):
        return ""
    parts = [
        f"{k}: {v}"
        for k, v in properties.items()
        if isinstance(v, str | int | float | bool) and v != ""
    ]
    text = ", ".join(parts)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def find_customers(lifetide: Lifetide, query: str, limit: int = 20) -> list[CustomerMatch]:
    """Profiles matching an e-mail (any case), a phone, a record or device id, or a profile id.

    An e-mail address is also matched as a prefix (`ada@` finds ada@example.com), so the
    Studio's search box answers as one types. Merged profiles lead to their survivor.
    """
    text = query.strip()
    if not text:
        return []
    found: dict[int, str] = {}
    with lifetide.sessions() as session:

        def add(ids: list[int], matched_on: str) -> None:
            for raw in ids:
                live = survivor_id(session, raw)
                if live is not None and live not in found and len(found) < limit:
                    found[live] = matched_on

        # Only ASCII digits (int() reads other scripts' digits too), and only an id that fits
        # the database's signed 64-bit integers: a longer number is no profile id.
        if text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_PROFILE_ID:
            add([int(text)], "profile_id")
        address = normalize.email(text)
        if address is not None:
            add(_by_identity(session, "email", address, limit), "email")
        phone = normalize.phone(text)
        if phone is not None:
            add(_by_identity(session, "phone", phone, limit), "phone")
        exact = select(Identity.customer_id, Identity.kind).where(
            Identity.value == text, Identity.kind.not_in(("email", "phone"))
        )
        for customer_id, kind in session.execute(exact.limit(limit)):
            add([customer_id], kind)
        if len(text) >= 3 and " " not in text:
            prefix = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like = (
                select(Identity.customer_id)
                .where(Identity.kind == "email", Identity.value.like(f"{prefix}%", escape="\\"))
                .order_by(Identity.value)
                .limit(limit)
            )
            add(list(session.scalars(like)), "email prefix")
        rows = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(found)))}
    return [
        CustomerMatch(
            profile_id=pid,
            email=rows[pid].email,
            phone=rows[pid].phone,
            first_name=rows[pid].first_name,
            last_name=rows[pid].last_name,
            country=rows[pid].country,
            matched_on=matched_on,
        )
        for pid, matched_on in found.items()
    ]


def _by_identity(session: Session, kind: str, value: str, limit: int) -> list[int]:
    statement = select(Identity.customer_id).where(Identity.kind == kind, Identity.value == value)
    return list(session.scalars(statement.limit(limit)))
