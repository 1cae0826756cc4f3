"""The segment service: what the API, the Studio, the CLI and the worker ask of segments.

It is thin: definitions are checked by `validate`, compiled by `compiler`, described by
`describe`; saved segments live in `store`; members in `membership`. Every warehouse read and
write goes through this thread's own backend (DuckDB connections are not shared by threads).
"""

from __future__ import annotations

import builtins
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from lifetide.clock import naive_utc
from lifetide.context import Lifetide
from lifetide.ops.models import Segment, SegmentRefresh, User
from lifetide.segments.compiler import members
from lifetide.segments.describe import describe
from lifetide.segments.export import export_query
from lifetide.segments.fields import Catalog
from lifetide.segments.membership import Membership, RefreshOutcome, resolve_identifiers
from lifetide.segments.rules import Definition
from lifetide.segments.store import (
    UNSET,
    SegmentConflict,
    SegmentError,
    SegmentNotFound,
    SegmentStore,
    utc,
    utc_or_none,
)
from lifetide.segments.suggestions import Suggestion, SuggestionError, suggest
from lifetide.segments.tables import (
    CHANGES,
    MEMBERS,
    Tables,
    catalog_of,
    ensure_segment_tables,
    segment_tables,
)
from lifetide.segments.validate import validated

__all__ = [
    "CountResult",
    "MemberChange",
    "RefreshInfo",
    "RefreshResult",
    "SegmentConflict",
    "SegmentDetail",
    "SegmentError",
    "SegmentNotFound",
    "SegmentService",
    "SegmentSummary",
    "StaticResult",
    "Suggestion",
    "SuggestionError",
    "VersionInfo",
]
MAX_IDENTIFIERS = 1_000_000
SAMPLE_COLUMNS = ("profile_id", "email", "first_name", "last_name")


@dataclass(frozen=True)
class CountResult:
    """How many profiles a definition matches now, of how many, and in words."""

    count: int
    total: int
    share: float
    description: str
    seconds: float


@dataclass(frozen=True)
class SegmentSummary:
    """A saved segment as a list shows it."""

    id: int
    name: str
    kind: str
    description: str | None
    size: int | None
    last_refreshed_at: dt.datetime | None
    owner_email: str | None
    updated_at: dt.datetime
    version: int
    refresh_minutes: int | None
    created_at: dt.datetime


@dataclass(frozen=True)
class RefreshInfo:
    """One recorded refresh of a segment."""

    id: int
    version: int
    trigger: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    size: int | None
    entered: int | None
    exited: int | None
    error: str | None


@dataclass(frozen=True)
class SegmentDetail(SegmentSummary):
    """A saved segment with its definition, its sentence and its latest refreshes."""

    definition: dict[str, Any] | None = None
    sentence: str = ""
    refreshes: list[RefreshInfo] = field(default_factory=list)


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did: new size, who entered and exited, or why it failed."""

    segment_id: int
    refresh_id: int
    size: int | None
    entered: int
    exited: int
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class StaticResult:
    """A static segment made from uploaded identifiers, and those that matched nobody."""

    segment: SegmentDetail
    identifiers: int
    matched: int
    unmatched: list[str]


@dataclass(frozen=True)
class VersionInfo:
    """One saved version of a segment."""

    version: int
    name: str
    definition: dict[str, Any] | None
    author_email: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class MemberChange:
    """A profile entering or exiting a segment at a refresh."""

    profile_id: int
    change: str
    changed_at: dt.datetime
    refresh_id: int


class SegmentService:
    """Segments for one Lifetide: live counts, saved segments, refreshes and members."""

    def __init__(self, lifetide: Lifetide) -> None:
        self._app = lifetide
        self.store = SegmentStore(lifetide.sessions, lifetide.clock)

    # -- the warehouse, on this thread ---------------------------------------------------

    def _backend(self) -> Any:
        backend = self._app.warehouse.thread_backend()
        ensure_segment_tables(backend)
        return backend

    def _tables(self) -> Tables:
        return segment_tables(self._backend())

    # -- building ------------------------------------------------------------------------

    def catalog(self) -> Catalog:
        """The fields a definition can use in this warehouse."""
        return catalog_of(self._tables())

    def suggestions(
        self, source: str, prefix: str = "", field: str | None = None, limit: int = 20
    ) -> builtins.list[str]:
        """Values for a picker, most frequent first (see `suggest` for labels)."""
        return [s.value for s in self.suggest(source, prefix, field, limit)]

    def suggest(
        self, source: str, prefix: str = "", field: str | None = None, limit: int = 20
    ) -> builtins.list[Suggestion]:
        """Values with labels and counts for a picker; ValueError for an unknown source/field."""
        backend = self._backend()
        return suggest(backend, catalog_of(segment_tables(backend)), source, prefix, field, limit)

    def definition(self, data: Any) -> Definition:
        """`data` parsed and checked against the catalog and saved segments (InvalidDefinition)."""
        return validated(data, self.catalog(), self.store.names())

    def count(self, definition: Any, backend: Any = None) -> CountResult:
        """How many profiles `definition` matches now; InvalidDefinition on bad input.

        `backend` (from `Warehouse.private_backend`) lets another thread interrupt the count.
        """
        started = time.perf_counter()
        tables = self._tables() if backend is None else segment_tables(backend)
        names = self.store.names()
        catalog = catalog_of(tables)
        checked = validated(definition, catalog, names)
        matched = members(checked.root, tables, self._app.clock.now())
        count = int(matched.count().to_pyarrow().as_py())
        total = int(tables.profiles.count().to_pyarrow().as_py())
        sentence = describe(checked.root, catalog, names)
        share = count / total if total else 0.0
        return CountResult(count, total, share, sentence, time.perf_counter() - started)

    def total_profiles(self) -> int:
        """How many profiles the warehouse holds (the whole a segment's share is of)."""
        return int(self._tables().profiles.count().to_pyarrow().as_py())

    def describe(self, definition: Any) -> str:
        """The definition in English; InvalidDefinition on bad input."""
        tables = self._tables()
        names = self.store.names()
        catalog = catalog_of(tables)
        return describe(validated(definition, catalog, names).root, catalog, names)

    # -- saved segments ------------------------------------------------------------------

    def list(self) -> builtins.list[SegmentSummary]:
        """Every active segment, by name."""
        segments = self.store.active()
        owners = self.store.emails({s.owner_id for s in segments if s.owner_id is not None})
        return [_summary(s, owners) for s in segments]

    def get(self, segment_id: int) -> SegmentDetail:
        """One active segment in full; SegmentNotFound when missing or archived."""
        segment = self.store.get(segment_id)
        owners = self.store.emails({segment.owner_id} if segment.owner_id else set())
        refreshes = self.store.refreshes(segment_id)
        return SegmentDetail(
            **vars(_summary(segment, owners)),
            definition=segment.definition,
            sentence=self._sentence(segment),
            refreshes=[_refresh_info(r) for r in refreshes],
        )

    def _sentence(self, segment: Segment) -> str:
        if segment.kind == "static":
            size = segment.size or 0
            return f"An uploaded list of {size:,} profile{'s' if size != 1 else ''}."
        definition = Definition.model_validate(segment.definition or {})
        names = dict(self.store.names(archived=True))
        return describe(definition.root, self.catalog(), names)

    def create(
        self,
        name: str,
        definition: Any,
        user: User | None,
        description: str | None = None,
        refresh_minutes: int | None = 60,
    ) -> SegmentDetail:
        """Save a rules segment as version 1 and compute its members."""
        checked = self.definition(definition)
        segment = self.store.create(
            name=name,
            kind="rules",
            definition=checked,
            owner_id=_id(user),
            description=description,
            refresh_minutes=refresh_minutes,
        )
        self.refresh(segment.id, "save", user)
        return self.get(segment.id)

    def update(
        self,
        segment_id: int,
        user: User | None,
        name: str | None = None,
        definition: Any = None,
        description: str | None = UNSET,
        refresh_minutes: int | None = UNSET,
    ) -> SegmentDetail:
        """Change a segment: a new version when the name or rules change; refreshed if rules did.

        Leave an argument out to keep it; `description=None` clears it and
        `refresh_minutes=None` stops scheduled refreshes.
        """
        checked = None if definition is None else self.definition(definition)
        segment, changed = self.store.update(
            segment_id,
            author_id=_id(user),
            name=name,
            definition=checked,
            description=description,
            refresh_minutes=refresh_minutes,
        )
        if changed:
            self.refresh(segment.id, "save", user)
        return self.get(segment.id)

    def create_static(
        self,
        name: str,
        identifiers: Sequence[str],
        user: User | None,
        description: str | None = None,
    ) -> StaticResult:
        """A static segment of the profiles that uploaded e-mails, record or profile ids name."""
        given = [i for i in (str(x).strip() for x in identifiers) if i]
        if not given:
            raise SegmentError("the upload holds no identifiers")
        if len(given) > MAX_IDENTIFIERS:
            raise SegmentError(f"an upload may hold at most {MAX_IDENTIFIERS:,} identifiers")
        backend = self._backend()
        resolution = resolve_identifiers(backend.con, self._app.sessions, given)
        segment = self.store.create(
            name=name, kind="static", definition=None, owner_id=_id(user), description=description
        )
        membership = Membership(self.store, backend, self._app.clock)
        outcome = membership.set_static(segment, resolution.profile_ids, _id(user))
        if outcome.error is not None:
            raise SegmentError(f"the list was saved but its members were not: {outcome.error}")
        distinct = len({*given})
        return StaticResult(
            self.get(segment.id),
            identifiers=distinct,
            matched=distinct - len(resolution.unmatched),
            unmatched=resolution.unmatched,
        )

    def archive(self, segment_id: int, user: User | None) -> None:
        """Hide a segment (kept with its history); refused while another segment uses it."""
        self.store.archive(segment_id)

    def versions(self, segment_id: int) -> builtins.list[VersionInfo]:
        """Every saved version of a segment, newest first."""
        rows = self.store.versions(segment_id)
        authors = self.store.emails({v.author_id for v in rows if v.author_id is not None})
        return [
            VersionInfo(
                v.version,
                v.name,
                v.definition,
                authors.get(v.author_id) if v.author_id else None,
                utc(v.created_at),
            )
            for v in rows
        ]

    # -- members -------------------------------------------------------------------------

    def refresh(self, segment_id: int, trigger: str, user: User | None) -> RefreshResult:
        """Recompute a rules segment's members now; a failure is recorded and returned."""
        segment = self.store.get(segment_id)
        backend = self._backend()
        membership = Membership(self.store, backend, self._app.clock)
        outcome = membership.refresh(segment, trigger, _id(user), self.store.names())
        return _result(outcome)

    def refresh_due(self) -> int:
        """Refresh every scheduled segment whose interval has passed; how many were refreshed."""
        due = self.store.due(self._app.clock.now())
        for segment in due:
            self.refresh(segment.id, "schedule", None)
        return len(due)

    def member_ids(self, segment_id: int) -> ir.Table:
        """The segment's members as of its last refresh: one column, `profile_id`."""
        self.store.get(segment_id)
        rows = self._backend().table(MEMBERS)
        return rows.filter(rows.segment_id == segment_id).select("profile_id")

    def sample(self, segment_id: int, n: int = 8) -> builtins.list[dict[str, Any]]:
        """The first `n` members by profile id: profile_id, email, first_name and last_name."""
        tables = self._tables()
        query = export_query(tables, self.member_ids(segment_id), SAMPLE_COLUMNS).limit(n)
        rows: builtins.list[dict[str, Any]] = query.to_pyarrow().to_pylist()
        return rows

    def changes(
        self,
        segment_id: int,
        since: dt.datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[MemberChange]:
        """Entered and exited events of a segment, newest first, from `since` on if given."""
        self.store.get(segment_id, archived=True)
        rows = self._backend().table(CHANGES)
        rows = rows.filter(rows.segment_id == segment_id)
        if since is not None:
            rows = rows.filter(rows.changed_at >= naive_utc(since))
        page = rows.order_by(
            [ibis.desc("changed_at"), ibis.desc("refresh_id"), "change", "profile_id"]
        ).limit(max(1, min(limit, 1000)), offset=max(0, offset))
        return [
            MemberChange(
                int(r["profile_id"]), str(r["change"]), utc(r["changed_at"]), int(r["refresh_id"])
            )
            for r in page.to_pyarrow().to_pylist()
        ]


def _id(user: User | None) -> int | None:
    return None if user is None else user.id


def _summary(segment: Segment, owners: dict[int, str]) -> SegmentSummary:
    return SegmentSummary(
        id=segment.id,
        name=segment.name,
        kind=segment.kind,
        description=segment.description,
        size=segment.size,
        last_refreshed_at=utc_or_none(segment.last_refreshed_at),
        owner_email=owners.get(segment.owner_id) if segment.owner_id else None,
        updated_at=utc(segment.updated_at),
        version=segment.version,
        refresh_minutes=segment.refresh_minutes,
        created_at=utc(segment.created_at),
    )


def _refresh_info(row: SegmentRefresh) -> RefreshInfo:
    return RefreshInfo(
        id=row.id,
        version=row.version,
        trigger=row.trigger,
        started_at=utc(row.started_at),
        finished_at=utc_or_none(row.finished_at),
        size=row.size,
        entered=row.entered,
        exited=row.exited,
        error=row.error,
    )


def _result(outcome: RefreshOutcome) -> RefreshResult:
    return RefreshResult(
        segment_id=outcome.segment_id,
        refresh_id=outcome.refresh_id,
        size=outcome.size,
        entered=outcome.entered,
        exited=outcome.exited,
        seconds=outcome.seconds,
        error=outcome.error,
    )
