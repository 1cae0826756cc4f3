"""Identity resolution end to end: warehouse evidence in, profiles in the operational database.

Two layers:
1. records to persons: customer records that share a mailbox, a phone within one family, or a
   loyalty card are one person; Splink scores the rest, merging above `merge_at` and queueing
   `review_at`..`merge_at` for review;
2. devices to persons: an anonymous id joins the person whose account signed in on it, under
   Segment's limit of one user per profile: a device never bridges two people; a shared device
   stays with the first account seen on it, and the later claims are counted as conflicts.

Profile ids are stable across runs: a group of records keeps the lowest profile id any of them
had; a profile whose records all moved elsewhere points at its successor (`merged_into_id`).
Undone merges and rejected reviews are never linked again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock, aware_utc
from lifetide.identity.evidence import Evidence, read_evidence
from lifetide.identity.graph import Rules, connected, resolve
from lifetide.identity.matching import Link, match_records
from lifetide.identity.probabilistic import score_pairs
from lifetide.ops.database import transaction
from lifetide.ops.models import (
    Consent,
    Customer,
    Identity,
    IdentityReview,
    JourneyInstance,
    Merge,
)
from lifetide.warehouse.connection import Warehouse

# The account id a website sends as userId; records from other systems carry CRM ids.
USER_ID_SOURCES = frozenset({"ecommerce", "api"})
# Survivorship: a trait comes from the highest-priority source that has it, then the most
# recently updated record. The CRM is curated; the web account is what the customer typed.
SOURCE_PRIORITY = ("crm", "ecommerce", "loyalty", "pos", "api")
_TRAITS = ("email", "phone", "first_name", "last_name", "time_zone", "country")
_EXTRA_TRAITS = ("birth_date", "address_line1", "city", "region", "postal_code")

OnStage = Callable[[str], None]
_SCORED = frozenset({"probabilistic", "reviewed"})
_CHUNK = 100_000


@dataclass(frozen=True)
class ResolveSummary:
    """What a resolution run found and stored."""

    records: int
    profiles: int
    records_merged: int
    deterministic_links: int
    probabilistic_links: int
    reviews: int
    devices: int
    device_conflicts: int
    overused_values: int


@dataclass(frozen=True)
class Thresholds:
    """Match probabilities: merge at or above `merge_at`; review from `review_at`."""

    merge_at: float = 0.99
    review_at: float = 0.9


class IdentityResolver:
    """Resolves the warehouse's records and device links into stored profiles."""

    def __init__(
        self,
        warehouse: Warehouse,
        sessions: sessionmaker[Session],
        clock: Clock,
        thresholds: Thresholds | None = None,
        *,
        probabilistic: bool = True,
    ) -> None:
        self._warehouse = warehouse
        self._sessions = sessions
        self._clock = clock
        self._thresholds = thresholds or Thresholds()
        self._probabilistic = probabilistic

    def run(self, on_stage: OnStage | None = None) -> ResolveSummary:
        """Resolve everything in the warehouse now and store the result."""
        notify = on_stage or (lambda _stage: None)
        notify("reading records and device links")
        evidence = read_evidence(self._warehouse.duckdb)
        ids: list[str] = evidence.records.column("customer_id").to_pylist()
        excluded = self._excluded_pairs()

        notify("matching records on shared identifiers")
        matched = match_records(evidence.records)
        links = [link for link in matched.links if _pair(ids, link.a, link.b) not in excluded]
        links.extend(self._reviewed_links(ids))
        deterministic = len(_first_per_pair(links))
        reviews: list[tuple[str, str, float]] = []
        if self._probabilistic and len(ids) > 1:
            notify("scoring possible duplicates (Splink)")
            scored = score_pairs(evidence.records, keep_above=self._thresholds.review_at)
            for pair in scored:
                if _pair(ids, pair.a, pair.b) in excluded:
                    continue
                if pair.probability >= self._thresholds.merge_at:
                    links.append(Link(pair.a, pair.b, "probabilistic", f"{pair.probability:.4f}"))
                else:
                    reviews.append((ids[pair.a], ids[pair.b], pair.probability))
        links = _first_per_pair(links)
        persons = connected(len(ids), [(link.a, link.b, link.rule) for link in links])
        position = {cid: i for i, cid in enumerate(ids)}
        # A pair already joined through other links needs no review.
        reviews = [r for r in reviews if persons[position[r[0]]] != persons[position[r[1]]]]

        notify("attaching devices")
        devices, conflicts = _attach_devices(evidence, ids, persons)

        notify("storing profiles")
        profiles = self._store(evidence, ids, persons, links, devices, reviews)
        return ResolveSummary(
            records=len(ids),
            profiles=profiles,
            records_merged=len(ids) - len(np.unique(persons)) if ids else 0,
            deterministic_links=deterministic,
            probabilistic_links=len(links) - deterministic,
            reviews=len(reviews),
            devices=len(devices),
            device_conflicts=conflicts,
            overused_values=len(matched.overused),
        )

    def _reviewed_links(self, ids: list[str]) -> list[Link]:
        """Pairs a person confirmed in the review queue."""
        position = {cid: i for i, cid in enumerate(ids)}
        with self._sessions() as session:
            confirmed = session.execute(
                select(
                    IdentityReview.record_a, IdentityReview.record_b, IdentityReview.score
                ).where(IdentityReview.status == "merged")
            ).all()
        return [
            Link(position[a], position[b], "reviewed", f"{score:.4f}")
            for a, b, score in confirmed
            if a in position and b in position
        ]

    def _excluded_pairs(self) -> set[tuple[str, str]]:
        with self._sessions() as session:
            undone = session.execute(
                select(Merge.record_a, Merge.record_b).where(Merge.undone_at.is_not(None))
            ).all()
            rejected = session.execute(
                select(IdentityReview.record_a, IdentityReview.record_b).where(
                    IdentityReview.status == "rejected"
                )
            ).all()
        return {tuple(sorted(pair)) for pair in [*undone, *rejected]}  # type: ignore[misc]

    def _store(
        self,
        evidence: Evidence,
        ids: list[str],
        persons: np.ndarray,
        links: list[Link],
        devices: dict[str, int],
        reviews: list[tuple[str, str, float]],
    ) -> int:
        now = self._clock.now()
        records = evidence.records.to_pydict()
        with transaction(self._sessions) as session:
            previous = dict(
                session.execute(
                    select(Identity.value, Identity.customer_id).where(
                        Identity.kind.in_(("user_id", "crm_id"))
                    )
                ).all()
            )
            profile_of = _stable_ids(ids, persons, previous, _next_id(session))
            # Decisions the customer made live (an unsubscribe link, an opt-in trait) outlive a
            # re-resolve unless a record changed later: records alone must never re-grant.
            live = session.execute(
                select(
                    Consent.customer_id,
                    Consent.channel,
                    Consent.purpose,
                    Consent.status,
                    Consent.source,
                    Consent.updated_at,
                ).where(or_(Consent.source.is_(None), Consent.source.not_like("record %")))
            ).all()
            session.execute(delete(Identity))
            session.execute(delete(Consent))
            session.execute(delete(Merge).where(Merge.undone_at.is_(None)))

            profiles = _survivors(records, persons, profile_of)
            existing = set(session.scalars(select(Customer.id)))
            updates = [p for p in profiles if p["id"] in existing]
            inserts = [p | {"created_at": now} for p in profiles if p["id"] not in existing]
            for row in updates:
                row["updated_at"] = now
                row["merged_into_id"] = None
            for row in inserts:
                row["updated_at"] = now
            if updates:
                session.execute(update(Customer), updates)
            if inserts:
                session.execute(insert(Customer), inserts)
            moved = _successors(previous, ids, persons, profile_of)
            kept = set(profile_of.values())
            gone = [
                {"id": old, "merged_into_id": new, "updated_at": now}
                for old, new in moved.items()
                if old not in kept
            ]
            if gone:
                session.execute(update(Customer), gone)
                # A customer's open journeys follow them into the profile they merged into, so
                # the survivor's events (her order) reach them.
                instances: Table = JourneyInstance.__table__  # type: ignore[assignment]
                session.execute(
                    update(instances)
                    .where(
                        instances.c.profile_id == bindparam("old"),
                        instances.c.status != "done",
                    )
                    .values(profile_id=bindparam("new")),
                    [{"old": g["id"], "new": g["merged_into_id"]} for g in gone],
                )

            session.execute(
                insert(Identity), _identities(records, persons, profile_of, devices, now)
            )
            moved_to = _successors(previous, ids, persons, profile_of)
            consents = _with_live_decisions(
                _consents(records, persons, profile_of, now),
                live,
                moved_to,
                set(profile_of.values()),
            )
            session.execute(insert(Consent), consents)
            merge_rows = [
                {
                    "customer_id": profile_of[int(persons[link.a])],
                    "record_a": ids[link.a],
                    "record_b": ids[link.b],
                    "rule": link.rule,
                    "evidence": None if link.rule in _SCORED else link.value,
                    "score": float(link.value) if link.rule in _SCORED else None,
                    "created_at": now,
                }
                for link in links
            ]
            if merge_rows:
                session.execute(insert(Merge), merge_rows)
            known = {
                (a, b)
                for a, b in session.execute(
                    select(IdentityReview.record_a, IdentityReview.record_b)
                )
            }
            new_reviews = [
                {"record_a": a, "record_b": b, "score": s, "status": "open", "created_at": now}
                for a, b, s in (_ordered(r) for r in reviews)
                if (a, b) not in known
            ]
            if new_reviews:
                session.execute(insert(IdentityReview), new_reviews)
        return len(profiles)


def _first_per_pair(links: list[Link]) -> list[Link]:
    """One link per pair of records: the first, so exact evidence outranks a score."""
    seen: set[tuple[int, int]] = set()
    out = []
    for link in links:
        key = (min(link.a, link.b), max(link.a, link.b))
        if key not in seen:
            seen.add(key)
            out.append(link)
    return out


def _pair(ids: list[str], a: int, b: int) -> tuple[str, str]:
    return (ids[a], ids[b]) if ids[a] <= ids[b] else (ids[b], ids[a])


def _ordered(review: tuple[str, str, float]) -> tuple[str, str, float]:
    a, b, s = review
    return (a, b, s) if a <= b else (b, a, s)


def _attach_devices(
    evidence: Evidence, ids: list[str], persons: np.ndarray
) -> tuple[dict[str, int], int]:
    """Each anonymous id's person, under the one-user-per-profile limit; and the conflicts."""
    person_of_user = {cid: int(persons[i]) for i, cid in enumerate(ids)}
    links = evidence.links.to_pydict()
    anon_index: dict[str, int] = {}
    person_nodes = sorted(set(person_of_user.values()))
    node_of_person = {p: i for i, p in enumerate(person_nodes)}
    kinds = ["user_id"] * len(person_nodes)
    edges: list[tuple[int, int, str]] = []
    for anonymous_id, user_id in zip(links["anonymous_id"], links["user_id"], strict=True):
        person = person_of_user.get(user_id)
        if person is None or Rules().is_blocked("anonymous_id", anonymous_id):
            continue
        if anonymous_id not in anon_index:
            anon_index[anonymous_id] = len(kinds)
            kinds.append("anonymous_id")
        edges.append((anon_index[anonymous_id], node_of_person[person], "signed in"))
    resolution = resolve(kinds, edges)
    label_person = {int(resolution.labels[node]): person for person, node in node_of_person.items()}
    devices = {
        anonymous_id: label_person[int(resolution.labels[node])]
        for anonymous_id, node in anon_index.items()
        if int(resolution.labels[node]) in label_person
    }
    return devices, len(resolution.conflicts)


def _next_id(session: Session) -> int:
    highest = session.scalar(select(Customer.id).order_by(Customer.id.desc()).limit(1))
    return int(highest or 0) + 1


def _stable_ids(
    ids: list[str], persons: np.ndarray, previous: dict[str, int], next_id: int
) -> dict[int, int]:
    """Profile id per person label: the lowest id its records had before, else a new one."""
    chosen: dict[int, int] = {}
    for index, cid in enumerate(ids):
        old = previous.get(cid)
        if old is not None:
            label = int(persons[index])
            chosen[label] = min(chosen.get(label, old), old)
    taken = set(chosen.values())
    used: set[int] = set()
    out: dict[int, int] = {}
    for label in np.unique(persons).tolist():
        # Records of one old profile now split in two: the first group keeps the id.
        if label in chosen and chosen[label] not in used:
            out[label] = chosen[label]
        else:
            while next_id in taken:
                next_id += 1
            out[label] = next_id
            next_id += 1
        used.add(out[label])
    return out


def _successors(
    previous: dict[str, int], ids: list[str], persons: np.ndarray, profile_of: dict[int, int]
) -> dict[int, int]:
    """For each earlier profile, the profile now holding its records."""
    out: dict[int, int] = {}
    for index, cid in enumerate(ids):
        old = previous.get(cid)
        if old is not None:
            out.setdefault(old, profile_of[int(persons[index])])
    return out


def _record_order(records: dict[str, list[Any]], persons: np.ndarray) -> list[int]:
    priority = {s: i for i, s in enumerate(SOURCE_PRIORITY)}
    return sorted(
        range(len(persons)),
        key=lambda i: (
            int(persons[i]),
            priority.get(records["source"][i], len(priority)),
            -(records["updated_at"][i].timestamp() if records["updated_at"][i] else 0.0),
        ),
    )


def _survivors(
    records: dict[str, list[Any]], persons: np.ndarray, profile_of: dict[int, int]
) -> list[dict[str, Any]]:
    """One profile row per person: each trait from the best record that has it."""
    rows: dict[int, dict[str, Any]] = {}
    for i in _record_order(records, persons):
        label = int(persons[i])
        row = rows.setdefault(label, {"id": profile_of[label], "traits": {}})
        for trait in _TRAITS:
            if row.get(trait) is None and records[trait][i] is not None:
                row[trait] = records[trait][i]
        for trait in _EXTRA_TRAITS:
            value = records[trait][i]
            if trait not in row["traits"] and value is not None:
                row["traits"][trait] = value.isoformat() if isinstance(value, dt.date) else value
    for row in rows.values():
        for trait in _TRAITS:
            row.setdefault(trait, None)
    return list(rows.values())


def _identities(
    records: dict[str, list[Any]],
    persons: np.ndarray,
    profile_of: dict[int, int],
    devices: dict[str, int],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    rules = Rules()
    seen: set[tuple[str, str]] = set()
    rows: list[dict[str, Any]] = []

    def add(kind: str, value: str | None, profile: int, source: str | None) -> None:
        if value is None or (kind, value) in seen or rules.is_blocked(kind, value):
            return
        seen.add((kind, value))
        rows.append(
            {
                "customer_id": profile,
                "kind": kind,
                "value": value,
                "source": source,
                "first_seen_at": now,
                "last_seen_at": now,
            }
        )

    for i, cid in enumerate(records["customer_id"]):
        profile = profile_of[int(persons[i])]
        source = records["source"][i]
        add("user_id" if source in USER_ID_SOURCES else "crm_id", cid, profile, source)
        add("email", records["email"][i], profile, source)
        add("phone", records["phone"][i], profile, source)
        add("loyalty_id", records["loyalty_id"][i], profile, source)
    for anonymous_id, person in devices.items():
        add("anonymous_id", anonymous_id, profile_of[person], "events")
    return rows


def _with_live_decisions(
    rows: list[dict[str, Any]],
    live: Sequence[Any],
    moved_to: dict[int, int],
    kept: set[int],
) -> list[dict[str, Any]]:
    """The records' consents, each replaced by a live decision made after its record changed."""
    by_key = {(r["customer_id"], r["channel"], r["purpose"]): r for r in rows}
    for customer_id, channel, purpose, status, source, updated_at in live:
        profile = customer_id if customer_id in kept else moved_to.get(customer_id)
        if profile is None:
            continue
        decided = aware_utc(updated_at)
        row = by_key.get((profile, channel, purpose))
        if row is not None and row["decided_at"] is not None and row["decided_at"] >= decided:
            continue
        by_key[(profile, channel, purpose)] = {
            "customer_id": profile,
            "channel": channel,
            "purpose": purpose,
            "status": status,
            "source": source,
            "updated_at": decided,
            "decided_at": decided,
        }
    return [{k: v for k, v in r.items() if k != "decided_at"} for r in by_key.values()]


def _consents(
    records: dict[str, list[Any]], persons: np.ndarray, profile_of: dict[int, int], now: dt.datetime
) -> list[dict[str, Any]]:
    """E-mail and SMS consent per profile from its most recently updated record."""
    latest: dict[int, int] = {}
    for i in range(len(persons)):
        label = int(persons[i])
        current = latest.get(label)
        if current is None or records["updated_at"][i] > records["updated_at"][current]:
            latest[label] = i
    rows = []
    for label, i in latest.items():
        decided = records["updated_at"][i]
        for channel, column in (
            ("email", "accepts_email_marketing"),
            ("sms", "accepts_sms_marketing"),
        ):
            rows.append(
                {
                    "customer_id": profile_of[label],
                    "channel": channel,
                    "purpose": "marketing",
                    "status": "granted" if records[column][i] else "denied",
                    "source": f"record {records['customer_id'][i]}",
                    "updated_at": now,
                    "decided_at": aware_utc(decided) if decided is not None else None,
                }
            )
    return rows
