"""Finding a profile and everything known about it, for `lifetide profile` and later the Studio."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.identity import normalize
from lifetide.ops.database import transaction
from lifetide.ops.models import Customer, Identity, IdentityReview, Merge
from lifetide.warehouse.connection import Warehouse


class ProfileError(LookupError):
    """No profile, merge or review matches what was asked."""


@dataclass(frozen=True)
class ProfileView:
    """A profile with its identifiers, consents, merges, and recent events and orders."""

    customer: Customer
    identities: list[tuple[str, str, str | None]]
    consents: list[tuple[str, str, str | None]]
    merges: list[Merge]
    events: list[dict[str, Any]]
    orders: list[dict[str, Any]]


def find_profile_id(sessions: sessionmaker[Session], query: str) -> int:
    """The profile for a profile id, an e-mail, a phone, or any identifier value."""
    text = query.strip()
    with sessions() as session:
        candidates: list[tuple[str | None, str | None]] = [
            ("email", normalize.email(text)),
            ("phone", normalize.phone(text)),
            (None, text),
        ]
        for kind, value in candidates:
            if value is None:
                continue
            statement = select(Identity.customer_id).where(Identity.value == value)
            if kind is not None:
                statement = statement.where(Identity.kind == kind)
            found = session.scalars(statement.limit(1)).first()
            if found is not None:
                return _survivor(session, found)
        if text.isdigit() and session.get(Customer, int(text)) is not None:
            return _survivor(session, int(text))
    raise ProfileError(f"no profile has the id or identifier {query!r}")


def _survivor(session: Session, profile_id: int) -> int:
    """Follow merged profiles to the one that holds their records now."""
    seen = set()
    current = session.get(Customer, profile_id)
    while current is not None and current.merged_into_id is not None and current.id not in seen:
        seen.add(current.id)
        current = session.get(Customer, current.merged_into_id)
    return current.id if current is not None else profile_id


def profile_view(
    sessions: sessionmaker[Session], warehouse: Warehouse, profile_id: int, recent: int = 10
) -> ProfileView:
    """Everything about one profile."""
    with sessions() as session:
        customer = session.get(Customer, profile_id)
        if customer is None:
            raise ProfileError(f"no profile {profile_id}")
        identities = [(i.kind, i.value, i.source) for i in customer.identities]
        consents = [(c.channel, c.status, c.source) for c in customer.consents]
        merges = list(
            session.scalars(select(Merge).where(Merge.customer_id == profile_id).order_by(Merge.id))
        )
    users = [v for k, v, _ in identities if k in ("user_id", "crm_id")]
    devices = [v for k, v, _ in identities if k == "anonymous_id"]
    events_t = warehouse.table("events")
    orders_t = warehouse.table("orders")
    events: list[dict[str, Any]] = []
    if users or devices:
        mine = events_t.user_id.isin(users or [""]) | events_t.anonymous_id.isin(devices or [""])
        events = _rows(
            events_t.filter(mine).order_by([ibis.desc("timestamp"), "message_id"]).limit(recent),
            ("timestamp", "type", "event", "product_id", "order_id", "user_id", "anonymous_id"),
        )
    orders: list[dict[str, Any]] = []
    if users:
        orders = _rows(
            orders_t.filter(orders_t.customer_id.isin(users))
            .order_by([ibis.desc("ordered_at"), "order_id"])
            .limit(recent),
            ("ordered_at", "order_id", "channel", "status", "total", "promo_code", "customer_id"),
        )
    return ProfileView(customer, identities, consents, merges, events, orders)


def _rows(expr: Any, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    # Sort and limit first, then keep the columns: a projection cannot sort by what it dropped.
    return list(expr.select(*columns).to_pyarrow().to_pylist())


def unmerge(sessions: sessionmaker[Session], merge_id: int, who: str, now: dt.datetime) -> Merge:
    """Mark a merge undone: the next resolution keeps its two records apart for good."""
    with transaction(sessions) as session:
        merge = session.get(Merge, merge_id)
        if merge is None:
            raise ProfileError(f"no merge {merge_id}")
        if merge.undone_at is None:
            merge.undone_at = now
            merge.undone_by = who
        return merge


def decide_review(
    sessions: sessionmaker[Session], review_id: int, merge: bool, now: dt.datetime
) -> IdentityReview:
    """Accept (merge) or reject a possible duplicate; the next resolution applies it."""
    with transaction(sessions) as session:
        review = session.get(IdentityReview, review_id)
        if review is None:
            raise ProfileError(f"no review {review_id}")
        review.status = "merged" if merge else "rejected"
        review.decided_at = now
        return review


def open_reviews(sessions: sessionmaker[Session], limit: int = 50) -> list[IdentityReview]:
    """Possible duplicates waiting for a decision, most likely first."""
    with sessions() as session:
        return list(
            session.scalars(
                select(IdentityReview)
                .where(IdentityReview.status == "open")
                .order_by(IdentityReview.score.desc(), IdentityReview.id)
                .limit(limit)
            )
        )
