"""Segment members in the warehouse: recomputed, compared with the last set, changes recorded.

A refresh computes the new member set, then in one warehouse transaction appends who entered
and who exited to `segment_changes` and replaces the segment's rows in `segment_members`. A
refresh that fails leaves the old members in place and records its error. Static segments get
their members from an uploaded list of identifiers instead of from rules.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock, naive_utc
from lifetide.identity import normalize
from lifetide.ops.models import Customer, Identity, Segment
from lifetide.segments.compiler import members
from lifetide.segments.store import SegmentError, SegmentStore
from lifetide.segments.tables import CHANGES, MEMBERS, catalog_of, segment_tables
from lifetide.segments.validate import InvalidDefinition, validated
from lifetide.warehouse.schema import RECORD_KINDS

CHANGE_COLUMNS = "(segment_id, refresh_id, profile_id, change, changed_at)"
MEMBERS_ARROW = pa.schema([("profile_id", pa.int64())])
_CHUNK = 500

# One refresh of a segment at a time in this process: two at once would both diff against
# the same old members and record every change twice.
_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def _segment_lock(segment_id: int) -> Iterator[None]:
    with _locks_guard:
        lock = _locks.setdefault(segment_id, threading.Lock())
    with lock:
        yield


@dataclass(frozen=True)
class Delta:
    """The size of a new member set and how many entered and exited."""

    size: int
    entered: int
    exited: int


@dataclass(frozen=True)
class RefreshOutcome:
    """One refresh as recorded: its id, the new size and changes, or its error."""

    refresh_id: int
    segment_id: int
    size: int | None
    entered: int
    exited: int
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class Resolution:
    """Uploaded identifiers resolved to profiles, and those that matched nobody."""

    profile_ids: list[int]
    unmatched: list[str]


def apply_members(
    con: Any, segment_id: int, refresh_id: int, new_members: pa.Table, at: dt.datetime
) -> Delta:
    """Record entered/exited against the stored members, then store the new set: one transaction.

    `con` is a DuckDB connection (this thread's own); `new_members` has a `profile_id` column.
    """
    view = f"__lifetide_new_members_{uuid.uuid4().hex}"
    incoming = new_members.select(["profile_id"]).cast(MEMBERS_ARROW)
    params = {"segment": segment_id, "refresh": refresh_id, "at": naive_utc(at)}
    con.register(view, incoming)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                f"CREATE TEMP TABLE {view}_set AS "
                f"SELECT DISTINCT profile_id FROM {view} WHERE profile_id IS NOT NULL"
            )
            entered = _count(
                con.execute(
                    f"INSERT INTO {CHANGES} {CHANGE_COLUMNS}"
                    f" SELECT $segment, $refresh, n.profile_id, 'entered', $at FROM {view}_set n"
                    f" WHERE NOT EXISTS (SELECT 1 FROM {MEMBERS} m"
                    f"  WHERE m.segment_id = $segment AND m.profile_id = n.profile_id)",
                    params,
                )
            )
            exited = _count(
                con.execute(
                    f"INSERT INTO {CHANGES} {CHANGE_COLUMNS}"
                    f" SELECT $segment, $refresh, m.profile_id, 'exited', $at FROM {MEMBERS} m"
                    f" WHERE m.segment_id = $segment AND NOT EXISTS"
                    f"  (SELECT 1 FROM {view}_set n WHERE n.profile_id = m.profile_id)",
                    params,
                )
            )
            con.execute(
                f"DELETE FROM {MEMBERS} WHERE segment_id = $segment", {"segment": segment_id}
            )
            size = _count(
                con.execute(
                    f"INSERT INTO {MEMBERS} (segment_id, profile_id)"
                    f" SELECT $segment, profile_id FROM {view}_set",
                    {"segment": segment_id},
                )
            )
            con.execute(f"DROP TABLE {view}_set")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister(view)
    return Delta(size, entered, exited)


def _count(result: Any) -> int:
    row = result.fetchone()
    return int(row[0]) if row else 0


def resolve_identifiers(
    con: Any, sessions: sessionmaker[Session], identifiers: Iterable[str]
) -> Resolution:
    """Profiles of uploaded e-mails, record ids (user, CRM, loyalty) or numeric profile ids.

    E-mails are normalized and matched against the warehouse profiles' e-mail and every e-mail
    identity in the operational database (merged profiles lead to their survivor). Anything
    else is a record id in `profile_keys`, or, when it is all digits and no record has it, a
    profile id. Blank lines are skipped; each unmatched identifier is reported once.
    """
    emails: dict[str, list[str]] = {}
    others: dict[str, list[str]] = {}
    for raw in identifiers:
        text = raw.strip()
        if not text:
            continue
        email = normalize.email(text)
        (emails.setdefault(email, []) if email else others.setdefault(text, [])).append(text)

    found: dict[str, set[int]] = {}
    for key, pid in _warehouse_matches(con, list(emails), list(others)):
        found.setdefault(key, set()).add(pid)
    for key, pid in _identity_emails(sessions, list(emails)):
        found.setdefault(key, set()).add(pid)

    profile_ids: set[int] = set()
    unmatched: list[str] = []
    for key, raws in (*emails.items(), *others.items()):
        if key in found:
            profile_ids |= found[key]
        else:
            unmatched.append(raws[0])
    return Resolution(sorted(profile_ids), unmatched)


def _warehouse_matches(con: Any, emails: list[str], others: list[str]) -> list[tuple[str, int]]:
    view = f"__lifetide_identifiers_{uuid.uuid4().hex}"
    keys = pa.table(
        {
            "key": pa.array([*emails, *others], pa.string()),
            "is_email": pa.array([True] * len(emails) + [False] * len(others), pa.bool_()),
        }
    )
    profile_columns = {r[0] for r in con.execute("DESCRIBE profiles").fetchall()}
    email_part = (
        f"SELECT i.key, p.profile_id, 0 AS rank FROM {view} i"
        " JOIN profiles p ON lower(trim(p.email)) = i.key WHERE i.is_email"
        if "email" in profile_columns
        else "SELECT NULL::VARCHAR AS key, NULL::BIGINT AS profile_id, 0 AS rank WHERE false"
    )
    kinds = ", ".join(f"'{k}'" for k in RECORD_KINDS)
    query = f"""
        WITH found AS (
            {email_part}
            UNION ALL
            SELECT i.key, k.profile_id, 1 AS rank FROM {view} i
            JOIN profile_keys k ON k.value = i.key AND k.kind IN ({kinds})
            WHERE NOT i.is_email
            UNION ALL
            SELECT i.key, p.profile_id, 2 AS rank FROM {view} i
            JOIN profiles p ON p.profile_id = TRY_CAST(i.key AS BIGINT)
            WHERE NOT i.is_email AND regexp_full_match(i.key, '[0-9]{{1,18}}')
        ), best AS (SELECT key, min(rank) AS rank FROM found GROUP BY key)
        SELECT DISTINCT f.key, f.profile_id FROM found f JOIN best b USING (key, rank)
    """
    con.register(view, keys)
    try:
        return [(str(k), int(p)) for k, p in con.execute(query).fetchall()]
    finally:
        con.unregister(view)


def _identity_emails(sessions: sessionmaker[Session], emails: list[str]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    with sessions() as session:
        for start in range(0, len(emails), _CHUNK):
            chunk = emails[start : start + _CHUNK]
            rows = session.execute(
                select(Identity.value, Identity.customer_id, Customer.merged_into_id)
                .join(Customer, Customer.id == Identity.customer_id)
                .where(Identity.kind == "email", Identity.value.in_(chunk))
            )
            for value, customer_id, merged_into in rows:
                out.append((str(value), _survivor(session, customer_id, merged_into)))
    return out


def _survivor(session: Session, customer_id: int, merged_into: int | None) -> int:
    # Follow a merge chain to the profile that holds the records now (bounded: no loops).
    current, seen = customer_id, {customer_id}
    while merged_into is not None and merged_into not in seen:
        current = merged_into
        seen.add(current)
        merged_into = session.scalar(select(Customer.merged_into_id).where(Customer.id == current))
    return int(current)


class Membership:
    """Refreshes of segments' members: rules compiled and run, or uploaded lists stored."""

    def __init__(self, store: SegmentStore, backend: Any, clock: Clock) -> None:
        self._store = store
        self._backend = backend
        self._clock = clock

    def refresh(
        self, segment: Segment, trigger: str, user_id: int | None, names: Mapping[int, str]
    ) -> RefreshOutcome:
        """Recompute a rules segment's members; on failure the old members stay.

        The segment's definition and version are read again once this refresh has its turn:
        `segment` may be older than a save made meanwhile.
        """
        if segment.kind != "rules":
            raise SegmentError(
                f"segment {segment.name!r} is a static list: upload a new list to change it"
            )

        def compute(current: Segment) -> pa.Table:
            tables = segment_tables(self._backend)
            definition = validated(current.definition, catalog_of(tables), names)
            return members(definition.root, tables, self._clock.now()).to_pyarrow()

        return self._recorded(segment, trigger, user_id, compute)

    def set_static(
        self, segment: Segment, profile_ids: list[int], user_id: int | None
    ) -> RefreshOutcome:
        """Make `profile_ids` the members of a static segment (trigger 'upload')."""
        table = pa.table({"profile_id": pa.array(profile_ids, pa.int64())})
        return self._recorded(segment, "upload", user_id, lambda _current: table)

    def _recorded(
        self,
        segment: Segment,
        trigger: str,
        user_id: int | None,
        compute: Callable[[Segment], pa.Table],
    ) -> RefreshOutcome:
        with _segment_lock(segment.id):
            started = time.perf_counter()
            # While this waited for the lock, a save may have made a new version: compute and
            # record that one, not the one the caller read.
            current = self._store.get(segment.id, archived=True)
            record = self._store.start_refresh(current.id, current.version, trigger, user_id)
            try:
                delta = apply_members(
                    self._backend.con, current.id, record.id, compute(current), self._clock.now()
                )
            except Exception as err:  # any failure is recorded; the old members stay
                error = _error_text(err)
                self._store.fail_refresh(record.id, error)
                seconds = time.perf_counter() - started
                return RefreshOutcome(record.id, segment.id, None, 0, 0, seconds, error)
            self._store.finish_refresh(
                record.id, size=delta.size, entered=delta.entered, exited=delta.exited
            )
            seconds = time.perf_counter() - started
            return RefreshOutcome(
                record.id, segment.id, delta.size, delta.entered, delta.exited, seconds
            )


def _error_text(err: Exception) -> str:
    if isinstance(err, InvalidDefinition):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in problem.loc)}: {problem.message}"
            for problem in err.problems
        )
        return f"the saved definition is no longer valid: {problems}"
    return f"{type(err).__name__}: {err}"
