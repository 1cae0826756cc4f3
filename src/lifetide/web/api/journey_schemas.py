"""Request and response models of `/api/journeys` (their names are the OpenAPI schema names)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lifetide.journeys.stats import JourneyCounts, SendCounts, StepCounts
from lifetide.ops.models import JourneyInstance, JourneyRecord

DEFINITION_DOC = (
    "A journey definition: {name, trigger, start, steps, goal?, reentry?}; "
    "see the Journeys section of docs/api.md."
)


def utc(when: dt.datetime | None) -> dt.datetime | None:
    """`when` as an aware UTC time (SQLite gives back naive ones, stored as UTC)."""
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


class NewJourney(BaseModel):
    """A journey to save as a draft (version 1)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, min_length=1, max_length=200, description="Default: the definition's name."
    )
    definition: dict[str, Any] = Field(description=DEFINITION_DOC)


class JourneyChange(BaseModel):
    """A new definition for a journey: saved as its next version (if it differs)."""

    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] = Field(description=DEFINITION_DOC)


class SendCountsOut(BaseModel):
    """Messages by status, and what customers did with them."""

    by_status: dict[str, int] = Field(
        description="pending, sent, skipped, deferred, failed, bounced"
    )
    total: int
    opened: int
    clicked: int
    converted: int
    revenue: float
    sent_today: int = Field(description="Sent since midnight UTC.")

    @classmethod
    def of(cls, counts: SendCounts) -> SendCountsOut:
        """The API form of `counts`."""
        return cls(
            by_status=dict(counts.by_status),
            total=counts.total,
            opened=counts.opened,
            clicked=counts.clicked,
            converted=counts.converted,
            revenue=round(counts.revenue, 2),
            sent_today=counts.sent_today,
        )


class StepOut(BaseModel):
    """One step of the current version, in the order the graph is walked, with its counts."""

    id: str
    type: str
    active: int
    waiting: int
    done: int = Field(description="Instances that ended at this step.")
    sends: SendCountsOut

    @classmethod
    def of(cls, step_id: str, step_type: str, counts: StepCounts) -> StepOut:
        """The API form of a step and its counts."""
        return cls(
            id=step_id,
            type=step_type,
            active=counts.active,
            waiting=counts.waiting,
            done=counts.done,
            sends=SendCountsOut.of(counts.sends),
        )


class JourneyOut(BaseModel):
    """A journey as listed, with its live counts."""

    id: int
    name: str
    status: str = Field(description="draft, live, paused or stopped")
    version: int
    owner_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    active: int
    waiting: int
    done: int
    outcomes: dict[str, int] = Field(description="Done instances by how they ended.")
    sends: SendCountsOut

    @classmethod
    def fields_of(cls, record: JourneyRecord, counts: JourneyCounts) -> dict[str, Any]:
        """The fields of a journey and its counts."""
        return {
            "id": record.id,
            "name": record.name,
            "status": record.status,
            "version": record.version,
            "owner_id": record.owner_id,
            "created_at": utc(record.created_at),
            "updated_at": utc(record.updated_at),
            "active": counts.active,
            "waiting": counts.waiting,
            "done": counts.done,
            "outcomes": dict(counts.outcomes),
            "sends": SendCountsOut.of(counts.sends),
        }


class VersionOut(BaseModel):
    """One saved version of a journey."""

    version: int
    author_email: str | None
    created_at: dt.datetime


class JourneyDetailOut(JourneyOut):
    """A journey with its current definition, its versions and each step's counts."""

    definition: dict[str, Any]
    versions: list[VersionOut] = Field(description="Newest first.")
    steps: list[StepOut]
    problems: list[str] = Field(description="What is wrong with the graph (empty when fine).")
    other_steps: list[StepOut] = Field(
        description="Steps of older versions that customers are still at or ended at."
    )


class InstanceOut(BaseModel):
    """One customer's place in the journey."""

    id: int
    profile_id: int
    version: int
    instance_key: str | None
    status: str = Field(description="active, waiting or done")
    step: str
    entered_at: dt.datetime
    step_started_at: dt.datetime
    wake_at: dt.datetime | None
    finished_at: dt.datetime | None
    outcome: str | None

    @classmethod
    def of(cls, row: JourneyInstance) -> InstanceOut:
        """The API form of a stored instance."""
        return cls(
            id=row.id,
            profile_id=row.profile_id,
            version=row.version,
            instance_key=row.instance_key,
            status=row.status,
            step=row.step,
            entered_at=utc(row.entered_at) or row.entered_at,
            step_started_at=utc(row.step_started_at) or row.step_started_at,
            wake_at=utc(row.wake_at),
            finished_at=utc(row.finished_at),
            outcome=row.outcome,
        )


class InstancesOut(BaseModel):
    """A page of instances, newest first; `next_offset` fetches the next (null at the end)."""

    instances: list[InstanceOut]
    next_offset: int | None
