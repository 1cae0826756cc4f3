"""Saved segments in the operational database: versions, owners, archive, and their references.

A segment may use other segments; saving one that would make a loop (A uses B uses A), or that
uses an archived or missing segment, is refused here whatever the caller checked before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock
from lifetide.ops.database import transaction
from lifetide.ops.models import Segment, SegmentRefresh, SegmentVersion, User
from lifetide.segments.rules import Definition, referenced_segments

KINDS = ("rules", "static")
TRIGGERS = ("schedule", "manual", "save", "upload")
NAME_MAX = 200


class SegmentError(ValueError):
    """A segment change that cannot be made as asked (duplicate name, loop, archived use)."""


class SegmentConflict(SegmentError):
    """A change that clashes with other segments: a name taken, a loop, an archived or used one."""


class SegmentNotFound(LookupError):
    """No segment has that id (or it is archived where an active one is needed)."""


def utc(value: dt.datetime) -> dt.datetime:
    """`value` as an aware UTC time (SQLite hands back naive ones)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    """Like `utc`, passing None through."""
    return None if value is None else utc(value)


@dataclass(frozen=True)
class DueSegment:
    """A scheduled segment whose refresh interval has passed."""

    id: int
    name: str


class _Unset:
    """Marks an argument left out, where None is a meaningful value."""


UNSET: Any = _Unset()


def clean_name(name: str) -> str:
    """The name trimmed; SegmentError when empty or too long."""
    text = " ".join(name.split())
    if not text:
        raise SegmentError("a segment needs a name")
    if len(text) > NAME_MAX:
        raise SegmentError(f"a segment name may have at most {NAME_MAX} characters")
    return text


def checked_refresh_minutes(value: int | None) -> int | None:
    """A refresh interval of 5 minutes to 30 days, or None for on demand only."""
    if value is not None and not 5 <= value <= 43_200:
        raise SegmentError("refresh_minutes must be between 5 and 43200 (30 days), or empty")
    return value


class SegmentStore:
    """Segments, their versions and refresh records in the operational database."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    # -- reading -------------------------------------------------------------------------

    def get(self, segment_id: int, *, archived: bool = False) -> Segment:
        """The segment `segment_id`; SegmentNotFound if missing (or archived, unless asked)."""
        with self._sessions() as session:
            segment = session.get(Segment, segment_id)
            if segment is None or (segment.archived_at is not None and not archived):
                raise SegmentNotFound(f"no segment {segment_id}")
            return segment

    def active(self) -> list[Segment]:
        """Every segment that is not archived, by name."""
        with self._sessions() as session:
            query = select(Segment).where(Segment.archived_at.is_(None)).order_by(Segment.name)
            return list(session.scalars(query))

    def names(self, *, archived: bool = False) -> dict[int, str]:
        """Ids and names of the active segments (those a definition may use), or of all."""
        query = select(Segment.id, Segment.name)
        if not archived:
            query = query.where(Segment.archived_at.is_(None))
        with self._sessions() as session:
            return {int(i): str(n) for i, n in session.execute(query)}

    def emails(self, user_ids: set[int]) -> dict[int, str]:
        """E-mail addresses of these users, by id."""
        if not user_ids:
            return {}
        with self._sessions() as session:
            rows = session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
            return {int(i): str(e) for i, e in rows}

    def versions(self, segment_id: int) -> list[SegmentVersion]:
        """Every saved version of a segment, newest first."""
        self.get(segment_id, archived=True)
        with self._sessions() as session:
            query = (
                select(SegmentVersion)
                .where(SegmentVersion.segment_id == segment_id)
                .order_by(SegmentVersion.version.desc())
            )
            return list(session.scalars(query))

    def refreshes(self, segment_id: int, limit: int = 10) -> list[SegmentRefresh]:
        """The latest refreshes of a segment, newest first."""
        with self._sessions() as session:
            query = (
                select(SegmentRefresh)
                .where(SegmentRefresh.segment_id == segment_id)
                .order_by(SegmentRefresh.id.desc())
                .limit(limit)
            )
            return list(session.scalars(query))

    def due(self, now: dt.datetime) -> list[DueSegment]:
        """Scheduled rules segments whose interval has passed since their last refresh attempt.

        A failed attempt counts as a refresh for scheduling, so a broken segment is retried once
        an interval, not on every worker round. One query, so an idle worker stays cheap.
        """
        last_attempt = (
            select(SegmentRefresh.segment_id, func.max(SegmentRefresh.started_at).label("at"))
            .group_by(SegmentRefresh.segment_id)
            .subquery()
        )
        query = (
            select(Segment.id, Segment.name, Segment.refresh_minutes, last_attempt.c.at)
            .outerjoin(last_attempt, last_attempt.c.segment_id == Segment.id)
            .where(Segment.archived_at.is_(None))
            .where(Segment.kind == "rules")
            .where(Segment.refresh_minutes.is_not(None))
            .order_by(Segment.id)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        due: list[DueSegment] = []
        for segment_id, name, minutes, at in rows:
            if at is None or utc(at) + dt.timedelta(minutes=int(minutes)) <= now:
                due.append(DueSegment(int(segment_id), str(name)))
        return due

    # -- writing -------------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        kind: str,
        definition: Definition | None,
        owner_id: int | None,
        description: str | None = None,
        refresh_minutes: int | None = None,
    ) -> Segment:
        """Save a new segment and its version 1."""
        if kind not in KINDS:
            raise SegmentError(f"unknown segment kind {kind!r}; one of: {', '.join(KINDS)}")
        name = clean_name(name)
        refresh_minutes = checked_refresh_minutes(refresh_minutes)
        stored = _stored(definition)
        now = self._clock.now()
        with _unique_name(name), transaction(self._sessions) as session:
            _check_name_free(session, name, None)
            if definition is not None:
                _check_references(session, None, name, definition)
            segment = Segment(
                name=name,
                description=_clean_description(description),
                kind=kind,
                definition=stored,
                version=1,
                owner_id=owner_id,
                refresh_minutes=refresh_minutes if kind == "rules" else None,
                created_at=now,
                updated_at=now,
            )
            session.add(segment)
            session.flush()
            session.add(
                SegmentVersion(
                    segment_id=segment.id,
                    version=1,
                    name=name,
                    definition=stored,
                    author_id=owner_id,
                    created_at=now,
                )
            )
            return segment

    def update(
        self,
        segment_id: int,
        *,
        author_id: int | None,
        name: str | None = None,
        definition: Definition | None = None,
        description: str | None = UNSET,
        refresh_minutes: int | None = UNSET,
    ) -> tuple[Segment, bool]:
        """Change a segment; a new version when its name or definition changed.

        Gives the segment and whether its definition changed (so members need a refresh).
        """
        now = self._clock.now()
        with _unique_name(name or ""), transaction(self._sessions) as session:
            segment = session.get(Segment, segment_id)
            if segment is None or segment.archived_at is not None:
                raise SegmentNotFound(f"no segment {segment_id}")
            new_name = segment.name if name is None else clean_name(name)
            if new_name != segment.name:
                _check_name_free(session, new_name, segment.id)
            stored = segment.definition
            if definition is not None:
                if segment.kind != "rules":
                    raise SegmentError(
                        f"segment {segment.name!r} is a static list: it has no rules to change"
                    )
                _check_references(session, segment.id, new_name, definition)
                stored = _stored(definition)
            definition_changed = stored != segment.definition
            if new_name != segment.name or definition_changed:
                segment.version += 1
                segment.name = new_name
                segment.definition = stored
                session.add(
                    SegmentVersion(
                        segment_id=segment.id,
                        version=segment.version,
                        name=new_name,
                        definition=stored,
                        author_id=author_id,
                        created_at=now,
                    )
                )
            if description is not UNSET:
                segment.description = _clean_description(description)
            if refresh_minutes is not UNSET:
                if segment.kind != "rules" and refresh_minutes is not None:
                    raise SegmentError("a static list is not refreshed on a schedule")
                segment.refresh_minutes = checked_refresh_minutes(refresh_minutes)
            segment.updated_at = now
            return segment, definition_changed

    def archive(self, segment_id: int) -> Segment:
        """Archive a segment (kept, hidden); refused while an active segment uses it."""
        now = self._clock.now()
        with transaction(self._sessions) as session:
            segment = session.get(Segment, segment_id)
            if segment is None or segment.archived_at is not None:
                raise SegmentNotFound(f"no segment {segment_id}")
            users = [
                other.name
                for other in _active_rules(session)
                if other.id != segment.id and segment.id in _references(other.definition)
            ]
            if users:
                raise SegmentConflict(
                    f"segment {segment.name!r} is used by {', '.join(map(repr, sorted(users)))}; "
                    "change those first"
                )
            segment.archived_at = now
            segment.updated_at = now
            return segment

    def start_refresh(
        self, segment_id: int, version: int, trigger: str, user_id: int | None
    ) -> SegmentRefresh:
        """Record that a refresh started; its id numbers the changes it makes."""
        if trigger not in TRIGGERS:
            raise SegmentError(f"unknown refresh trigger {trigger!r}")
        with transaction(self._sessions) as session:
            refresh = SegmentRefresh(
                segment_id=segment_id,
                version=version,
                trigger=trigger,
                user_id=user_id,
                started_at=self._clock.now(),
            )
            session.add(refresh)
            session.flush()
            return refresh

    def finish_refresh(
        self, refresh_id: int, *, size: int, entered: int, exited: int
    ) -> SegmentRefresh:
        """Record a refresh's outcome, and the segment's new size."""
        now = self._clock.now()
        with transaction(self._sessions) as session:
            refresh = session.get_one(SegmentRefresh, refresh_id)
            refresh.finished_at = now
            refresh.size, refresh.entered, refresh.exited = size, entered, exited
            segment = session.get_one(Segment, refresh.segment_id)
            segment.size = size
            segment.last_refreshed_at = now
            return refresh

    def fail_refresh(self, refresh_id: int, error: str) -> SegmentRefresh:
        """Record why a refresh failed; the segment keeps its members and size."""
        with transaction(self._sessions) as session:
            refresh = session.get_one(SegmentRefresh, refresh_id)
            refresh.finished_at = self._clock.now()
            refresh.error = error[:4000]
            return refresh


@contextmanager
def _unique_name(name: str) -> Iterator[None]:
    # Two saves of one name at once both pass the check; the unique index stops the second.
    try:
        yield
    except IntegrityError:
        raise SegmentConflict(
            f"a segment called {name.strip()!r} exists already; choose another name"
        ) from None


def _stored(definition: Definition | None) -> dict[str, Any] | None:
    # The parsed form with every default, so equal definitions are stored equal whatever the
    # input spelling, and a later change of a default cannot change a saved segment.
    return None if definition is None else definition.model_dump(mode="json")


def _clean_description(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if len(text) > 2000:
        raise SegmentError("a description may have at most 2000 characters")
    return text or None


def _check_name_free(session: Session, name: str, segment_id: int | None) -> None:
    query = select(Segment).where(func.lower(Segment.name) == name.lower())
    for other in session.scalars(query):
        if other.id != segment_id:
            archived = " (archived)" if other.archived_at is not None else ""
            raise SegmentConflict(
                f"a segment called {other.name!r} exists already{archived}; choose another name"
            )


def _references(stored: Mapping[str, Any] | None) -> set[int]:
    if not stored:
        return set()
    return referenced_segments(Definition.model_validate(stored).root)


def _active_rules(session: Session) -> list[Segment]:
    query = select(Segment).where(Segment.archived_at.is_(None), Segment.kind == "rules")
    return list(session.scalars(query))


def _check_references(
    session: Session, segment_id: int | None, name: str, definition: Definition
) -> None:
    """Refuse uses of missing or archived segments, and loops back to this segment."""
    wanted = referenced_segments(definition.root)
    if not wanted:
        return
    rows = {s.id: s for s in session.scalars(select(Segment).where(Segment.id.in_(wanted)))}
    for ref in sorted(wanted):
        other = rows.get(ref)
        if other is None:
            raise SegmentConflict(f"the definition uses segment {ref}, which does not exist")
        if other.archived_at is not None:
            raise SegmentConflict(
                f"the definition uses segment {other.name!r} ({ref}), which is archived"
            )
    if segment_id is None:
        return  # nothing can use a segment that does not exist yet
    graph = {s.id: _references(s.definition) for s in _active_rules(session)}
    names = {int(i): str(n) for i, n in session.execute(select(Segment.id, Segment.name))}
    graph[segment_id] = wanted
    names[segment_id] = name
    path = _loop(graph, segment_id)
    if path is not None:
        chain = " uses ".join(repr(names.get(i, str(i))) for i in path)
        raise SegmentConflict(f"segments may not use each other in a loop: {chain}")


def _loop(graph: Mapping[int, set[int]], start: int) -> list[int] | None:
    """A path start -> ... -> start through `graph`, if there is one (depth first)."""
    stack: list[tuple[int, list[int]]] = [(start, [start])]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph.get(node, set()), reverse=True):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None
