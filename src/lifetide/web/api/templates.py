"""`/api/templates`: the message templates journeys send (Jinja2, sandboxed), and previews.

Reading and previewing need a sign-in; saving and deleting need `segments.write` (admins and
marketers). A template that does not check answers 422 naming the field and line:
`{"detail": [{"loc": ["body"], "line": 3, "msg": "unexpected '}'"}]}`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lifetide.context import Lifetide
from lifetide.messaging.template_store import TemplateNotFound, TemplateStore, sample_context
from lifetide.messaging.templates import TemplateProblem, render_email, render_text, render_title
from lifetide.ops.models import MessageTemplate
from lifetide.web.security import ApiViewer, Viewer, require

router = APIRouter(prefix="/api/templates", tags=["templates"])
Writer = Annotated[Viewer, Depends(require("segments.write"))]


def store_of(request: Request) -> TemplateStore:
    """The template store of the app serving `request`."""
    lifetide: Lifetide = request.app.state.lifetide
    return TemplateStore(lifetide.sessions, lifetide.clock)


Store = Annotated[TemplateStore, Depends(store_of)]


def _utc(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


class TemplateOut(BaseModel):
    """A template as listed."""

    name: str
    channel: str = Field(description="email, sms or push")
    subject: str | None = Field(description="The e-mail's subject, or the push title.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def fields_of(cls, row: MessageTemplate) -> dict[str, Any]:
        """The listed fields of a stored template."""
        return {
            "name": row.name,
            "channel": row.channel,
            "subject": row.subject,
            "version": row.version,
            "created_at": _utc(row.created_at),
            "updated_at": _utc(row.updated_at),
        }


class TemplateDetailOut(TemplateOut):
    """A template with its bodies."""

    body: str = Field(description="HTML (e-mail) or text (SMS, push), Jinja2.")
    text_body: str | None = Field(description="The e-mail's plain-text part; null: from the HTML.")

    @classmethod
    def of(cls, row: MessageTemplate) -> TemplateDetailOut:
        """The API form of a stored template."""
        return cls(**cls.fields_of(row), body=row.body, text_body=row.text_body)


class TemplateIn(BaseModel):
    """A template to save under the name in the path (a new version if it exists)."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(description="email, sms or push")
    subject: str | None = Field(None, max_length=500)
    body: str = Field(max_length=500_000)
    text_body: str | None = Field(None, max_length=500_000)


class PreviewIn(BaseModel):
    """Values to lay over the sample context, key by key (e.g. a `customer` of your own)."""

    model_config = ConfigDict(extra="forbid")

    context: dict[str, Any] = Field(default_factory=dict)


class PreviewOut(BaseModel):
    """A template rendered with the sample context."""

    channel: str
    subject: str = Field(description="The subject (e-mail) or title (push).")
    html: str | None = Field(description="The HTML body (e-mail only), before CSS inlining.")
    text: str = Field(description="The text part (e-mail; empty: drawn from the HTML) or body.")


def _problem(err: TemplateProblem) -> HTTPException:
    return HTTPException(422, [{"loc": [err.field], "line": err.line, "msg": err.message}])


def _missing(name: str) -> HTTPException:
    return HTTPException(404, f"no template named {name!r}")


@router.get("")
def list_templates(store: Store, _viewer: ApiViewer) -> list[TemplateOut]:
    """Every template, by name."""
    return [TemplateOut(**TemplateOut.fields_of(row)) for row in store.list()]


@router.get("/{name}")
def get_template(name: str, store: Store, _viewer: ApiViewer) -> TemplateDetailOut:
    """One template with its bodies."""
    try:
        return TemplateDetailOut.of(store.get(name))
    except TemplateNotFound:
        raise _missing(name) from None


@router.put("/{name}")
def save_template(name: str, body: TemplateIn, store: Store, _viewer: Writer) -> TemplateDetailOut:
    """Save a template after checking it (syntax, fields, a sample render)."""
    try:
        row = store.save(name, body.channel, body.subject, body.body, body.text_body)
    except TemplateProblem as err:
        raise _problem(err) from None
    return TemplateDetailOut.of(row)


@router.delete("/{name}", status_code=204)
def delete_template(name: str, store: Store, _viewer: Writer) -> Response:
    """Delete a template: `204`; `404` if there is none."""
    try:
        store.delete(name)
    except TemplateNotFound:
        raise _missing(name) from None
    return Response(status_code=204)


@router.post("/{name}/preview")
def preview_template(
    name: str,
    store: Store,
    _viewer: ApiViewer,
    body: Annotated[PreviewIn | None, Body()] = None,
) -> PreviewOut:
    """The template rendered with a sample customer, cart, recommendations and offer."""
    try:
        row = store.get(name)
    except TemplateNotFound:
        raise _missing(name) from None
    context = sample_context() | (body.context if body is not None else {})
    try:
        if row.channel == "email":
            email = render_email(row, context)
            return PreviewOut(
                channel=row.channel, subject=email.subject, html=email.html, text=email.text
            )
        return PreviewOut(
            channel=row.channel,
            subject=render_title(row, context),
            html=None,
            text=render_text(row, context),
        )
    except TemplateProblem as err:
        raise _problem(err) from None
