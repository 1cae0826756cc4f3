"""Request and response models of `/api/segments` (their names are the OpenAPI schema names)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lifetide.segments.service import MAX_IDENTIFIERS

UNMATCHED_SHOWN = 1000
DEFINITION_DOC = (
    'A segment definition: {"root": {"type": "group", "op": "and", "children": [...]}}; '
    "see the Segments section of docs/api.md."
)


class Out(BaseModel):
    """A response read from the service's dataclasses."""

    model_config = ConfigDict(from_attributes=True)


class DefinitionIn(BaseModel):
    """A definition to count or describe."""

    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] = Field(description=DEFINITION_DOC)


class CountOut(Out):
    """Profiles matching a definition now, of all profiles, and the definition in English."""

    count: int
    total: int
    share: float = Field(description="count / total; 0 when there are no profiles.")
    description: str
    seconds: float


class DescriptionOut(BaseModel):
    """A definition in English."""

    description: str


class SuggestionOut(Out):
    """A value for a picker: `value` to store, `label` to show, `count` how often it occurs."""

    value: str
    label: str
    count: int


class SuggestionsOut(BaseModel):
    """Suggested values, most frequent first."""

    source: str
    suggestions: list[SuggestionOut]


class RefreshOut(Out):
    """One recorded refresh."""

    id: int
    version: int
    trigger: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    size: int | None
    entered: int | None
    exited: int | None
    error: str | None


class SegmentOut(Out):
    """A saved segment as listed."""

    id: int
    name: str
    kind: str = Field(description="rules or static")
    description: str | None
    size: int | None
    last_refreshed_at: dt.datetime | None
    owner_email: str | None
    updated_at: dt.datetime
    created_at: dt.datetime
    version: int
    refresh_minutes: int | None


class SegmentDetailOut(SegmentOut):
    """A saved segment with its definition, sentence and latest refreshes."""

    definition: dict[str, Any] | None
    sentence: str
    refreshes: list[RefreshOut]


class NewSegment(BaseModel):
    """A rules segment to save; it is refreshed at once."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    definition: dict[str, Any] = Field(description=DEFINITION_DOC)
    description: str | None = Field(None, max_length=2000)
    refresh_minutes: int | None = Field(
        60, ge=5, le=43_200, description="Minutes between scheduled refreshes; null: on demand."
    )


class SegmentChange(BaseModel):
    """Changes to a segment; fields left out stay as they are (null clears the last two)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    definition: dict[str, Any] | None = Field(None, description=DEFINITION_DOC)
    description: str | None = Field(None, max_length=2000)
    refresh_minutes: int | None = Field(None, ge=5, le=43_200)


class VersionOut(Out):
    """One saved version of a segment."""

    version: int
    name: str
    definition: dict[str, Any] | None
    author_email: str | None
    created_at: dt.datetime


class RefreshResultOut(Out):
    """What a refresh did."""

    segment_id: int
    refresh_id: int
    size: int | None
    entered: int
    exited: int
    seconds: float


class ChangeOut(Out):
    """A profile entering or exiting the segment."""

    profile_id: int
    change: str = Field(description="entered or exited")
    changed_at: dt.datetime
    refresh_id: int


class ChangesOut(BaseModel):
    """A page of changes, newest first; `next_offset` fetches the next page (null at the end)."""

    changes: list[ChangeOut]
    next_offset: int | None


class NewStaticSegment(BaseModel):
    """A static segment from a list of e-mails, record ids or profile ids."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    identifiers: list[str] = Field(max_length=MAX_IDENTIFIERS)
    description: str | None = Field(None, max_length=2000)


class StaticOut(BaseModel):
    """The static segment made, how many identifiers matched, and (the first) unmatched ones."""

    segment: SegmentDetailOut
    identifiers: int
    matched: int
    unmatched_count: int
    unmatched: list[str] = Field(description=f"At most {UNMATCHED_SHOWN} of them.")
