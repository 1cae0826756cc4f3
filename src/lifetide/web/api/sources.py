"""`/api/sources`: tracking sources and their write keys (admins only).

A write key is shown once, in the reply that creates it; afterwards only its first characters
are. Revoking a source refuses its key on `/v1/*` at once in this process, and within the
write-key cache's few seconds in any other.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lifetide.collect.intake import Intake
from lifetide.collect.sources import MAX_NAME, SourceError, SourceExists, SourceNotFound, Sources
from lifetide.ops.models import Source
from lifetide.web.security import Viewer, require

router = APIRouter(prefix="/api/sources", tags=["sources"])
Admin = Annotated[Viewer, Depends(require("sources.manage"))]


def _utc(when: dt.datetime) -> dt.datetime:
    # SQLite gives back naive times (stored as UTC): every reply says UTC the same way.
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


class SourceOut(BaseModel):
    """A tracking source as listed: the start of its write key, never the key itself."""

    id: int
    name: str
    hint: str = Field(description="The write key's first characters, to tell keys apart.")
    created_at: dt.datetime
    revoked: bool
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, source: Source) -> SourceOut:
        """The public view of `source`."""
        return cls(
            id=source.id,
            name=source.name,
            hint=source.write_key_hint,
            created_at=_utc(source.created_at),
            revoked=source.revoked_at is not None,
            revoked_at=_utc(source.revoked_at) if source.revoked_at is not None else None,
        )


class NewSourceIn(BaseModel):
    """A tracking source to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        description="Where the events come from, e.g. 'Web shop' or 'iOS app'; unique.",
    )


class CreatedSource(SourceOut):
    """A source just created: `write_key` is shown this once and cannot be read again."""

    write_key: str = Field(description="HTTP Basic user name for /v1/*; shown only this once.")


def sources_of(request: Request) -> Sources:
    """The tracking sources of the app serving `request`."""
    sources: Sources = request.app.state.lifetide.sources
    return sources


def revoke_source(request: Request, name: str) -> None:
    """Revoke `name` and drop this process's kept answers for its key, so it fails at once."""
    source_id = sources_of(request).revoke(name)
    intake: Intake | None = getattr(request.app.state, "intake", None)
    if intake is not None:
        intake.keys.forget_source(source_id)


def _refused(err: SourceError) -> HTTPException:
    if isinstance(err, SourceNotFound):
        return HTTPException(404, str(err))
    if isinstance(err, SourceExists):
        return HTTPException(409, str(err))
    return HTTPException(422, str(err))


@router.get("")
def list_sources(request: Request, _admin: Admin) -> list[SourceOut]:
    """Every tracking source, oldest first, revoked ones included (admins only)."""
    return [SourceOut.of(source) for source in sources_of(request).list()]


@router.post("", status_code=201)
def create_source(
    request: Request, response: Response, body: NewSourceIn, _admin: Admin
) -> CreatedSource:
    """Create a source and its write key, shown only in this reply; 409 if the name is taken."""
    try:
        created = sources_of(request).create(body.name)
    except SourceError as err:
        raise _refused(err) from None
    # The key is in this reply: no browser or proxy may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return CreatedSource(
        id=created.id,
        name=created.name,
        hint=created.hint,
        created_at=_utc(created.created_at),
        revoked=False,
        revoked_at=None,
        write_key=created.write_key,
    )


@router.delete("/{name:path}", status_code=204)
def delete_source(request: Request, name: str, _admin: Admin) -> Response:
    """Revoke a source's write key: `/v1/*` refuses it with 401 from now on; 404 if unknown."""
    try:
        revoke_source(request, name)
    except SourceError as err:
        raise _refused(err) from None
    return Response(status_code=204)
