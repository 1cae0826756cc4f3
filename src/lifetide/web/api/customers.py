"""`/api/customers`: finding a customer, and everything about one. Needs a sign-in."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from lifetide.customers.view import CustomerNotFound, customer_view, find_customers
from lifetide.web.ids import RowId
from lifetide.web.security import ApiViewer

router = APIRouter(prefix="/api/customers", tags=["customers"])


class CustomerMatchOut(BaseModel):
    """A profile a search found, and which identifier it matched on."""

    profile_id: int
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    country: str | None
    matched_on: str = Field(
        description="profile_id, email, phone, email prefix, or an identifier kind (crm_id, ...)"
    )


class IdentifierOut(BaseModel):
    """One identifier of the profile."""

    kind: str
    value: str
    source: str | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class ConsentOut(BaseModel):
    """Marketing consent on one channel."""

    channel: str
    purpose: str
    status: str
    source: str | None
    updated_at: dt.datetime


class RecommendationOut(BaseModel):
    """A recommended product."""

    rank: int
    product_id: str
    name: str | None
    category: str | None
    brand: str | None
    price: float | None
    score: float | None
    source: str | None


class TimelineItemOut(BaseModel):
    """An event, an order or an e-mail message, with its details."""

    kind: str = Field(description="event, order or message")
    at: dt.datetime
    title: str
    details: dict[str, Any]


class MessageOut(BaseModel):
    """A journey message meant for the customer: the policy's decision and what they did."""

    key: str
    journey_id: int
    journey: str | None
    step: str
    channel: str
    template: str
    marketing: bool
    status: str = Field(description="pending, sending, sent, skipped, deferred, bounced, failed")
    reason: str | None = Field(description="Why it was skipped, deferred or failed.")
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


class SuppressionOut(BaseModel):
    """An address of the customer's that must not get (some) messages, and why."""

    channel: str
    address: str
    reason: str = Field(description="hard_bounce, complaint or unsubscribe")
    detail: str | None
    source: str | None
    created_at: dt.datetime


class CustomerOut(BaseModel):
    """A customer profile with its identifiers, consents, scores and recent activity."""

    profile_id: int
    requested_id: int
    merged: bool = Field(description="The id asked for was merged into `profile_id`.")
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    country: str | None
    time_zone: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    traits: dict[str, Any]
    identifiers: list[IdentifierOut]
    consents: list[ConsentOut]
    predictions: dict[str, Any] | None = Field(description="The predictions row; null unscored.")
    recommendations: list[RecommendationOut]
    timeline: list[TimelineItemOut] = Field(description="Newest first, at most 200 items.")
    messages: list[MessageOut] = Field(description="Journey messages, newest first (100 at most).")
    suppressions: list[SuppressionOut]


@router.get("")
def search_customers(
    request: Request,
    _viewer: ApiViewer,
    q: Annotated[str, Query(min_length=1, max_length=320, description="E-mail, phone or id.")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[CustomerMatchOut]:
    """Profiles matching an e-mail (or its start), a phone, a record id or a profile id."""
    found = find_customers(request.app.state.lifetide, q, limit)
    return [CustomerMatchOut.model_validate(m.to_json()) for m in found]


@router.get("/{profile_id}")
def get_customer(profile_id: RowId, request: Request, _viewer: ApiViewer) -> CustomerOut:
    """Everything about one profile (a merged one leads to its survivor); 404 if none."""
    try:
        view = customer_view(request.app.state.lifetide, profile_id)
    except CustomerNotFound as err:
        raise HTTPException(404, str(err)) from None
    return CustomerOut.model_validate(view.to_json())
