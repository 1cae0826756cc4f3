"""The customer pages: search, and one customer's profile, predictions and timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifetide.customers.view import CustomerNotFound, customer_view
from lifetide.segments.fields import prediction_fields
from lifetide.web.ids import RowId
from lifetide.web.security import PageViewer
from lifetide.web.templating import money, number, percent, render

router = APIRouter(include_in_schema=False)
# Predictions that are shares or probabilities from 0 to 1, shown as percentages.
_SHARES = frozenset({"discount_sensitivity", "clearance_score", "future_top20_probability"})
# Shown as headline cards; then the predictions a marketer looks at first; the rest folded.
HEADLINE = ("clv_12m", "p_alive", "p_purchase_30d", "orders", "net_spend")
FEATURED = (
    "lifecycle_stage",
    "expected_orders_90d",
    "expected_order_value",
    "future_top20",
    "p_return",
    "discount_class",
    "price_tier",
    "top_categories",
    "next_replenishment_due",
    "next_replenishment_product",
    "last_order_at",
    "days_since_seen",
)
_HIDDEN = frozenset({"profile_id", "as_of", "scored_at"})


def _is_share(key: str) -> bool:
    return key.startswith("p_") or "_rate" in key or key.endswith("_share") or key in _SHARES


def prediction_text(key: str, value: Any, unit: str = "") -> str:
    """A prediction as a marketer reads it: money, percentages, dates, words."""
    if value is None or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v).replace("_", " ") for v in value)
    if isinstance(value, int | float):
        if unit == "$":
            return money(value)
        if _is_share(key):
            return percent(float(value))
        if unit == "days":
            return f"{number(value)} days"
        return number(value, 0 if float(value).is_integer() else 2)
    text = str(value)
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        try:
            return dt.date.fromisoformat(text[:10]).strftime("%b %-d, %Y")
        except ValueError:
            return text
    return (
        text.replace("_", " ").capitalize() if key.endswith(("_stage", "_class", "_tier")) else text
    )


def prediction_rows(
    predictions: dict[str, Any] | None, keys: tuple[str, ...] | None = None
) -> list[tuple[str, str]]:
    """Predictions of a profile as (label, text): those in `keys` in that order, else all."""
    if not predictions:
        return []
    specs = {f.key: f for f in prediction_fields(dict.fromkeys(predictions, "string"))}
    wanted = keys if keys is not None else tuple(predictions)
    rows = []
    for key in wanted:
        if key in _HIDDEN or key not in specs or key not in predictions:
            continue
        spec = specs[key]
        rows.append((spec.label, prediction_text(key, predictions[key], spec.unit)))
    return rows


def campaign_name(campaign_id: str | None) -> str:
    """A campaign id such as 'cmp_20261101_hair-heroes' as 'Hair heroes'."""
    if not campaign_id:
        return ""
    parts = campaign_id.split("_")
    if len(parts) >= 3 and parts[0] == "cmp" and parts[1].isdigit():
        words = "_".join(parts[2:]).replace("-", " ").replace("_", " ")
        return words.capitalize()
    return campaign_id


def event_detail(details: dict[str, Any]) -> str:
    """An event's details in a few words: brand, category, price; else its summary."""
    parts = [str(details[k]) for k in ("brand", "category") if details.get(k)]
    if details.get("price") is not None:
        parts.append(money(float(details["price"])))
    quantity = details.get("quantity")
    if isinstance(quantity, int | float) and quantity > 1:
        parts.append(f"× {quantity:g}")
    if details.get("revenue") is not None:
        parts.append(f"revenue {money(float(details['revenue']))}")
    if details.get("order_id"):
        parts.append(f"order {details['order_id']}")
    if parts:
        return " · ".join(parts)
    summary = str(details.get("summary") or "").strip()
    return summary if len(summary) <= 140 else summary[:139] + "…"


def _since(created_at: dt.datetime, first_seen: str | None) -> dt.datetime:
    # The profile row is as old as the last identity run; their first order or visit is older.
    if first_seen:
        try:
            seen = dt.datetime.fromisoformat(first_seen)
        except ValueError:
            return created_at
        return min(seen.replace(tzinfo=None), created_at.replace(tzinfo=None))
    return created_at


@router.get("/customers", response_class=HTMLResponse)
def customer_search(request: Request, viewer: PageViewer, q: str = "") -> HTMLResponse:
    """A search box over e-mails, phones and ids; the page's script asks /api/customers."""
    return render(request, "customers/search.html", viewer, q=q)


@router.get("/customers/{profile_id}", response_model=None)
def customer_page(request: Request, viewer: PageViewer, profile_id: RowId) -> Response:
    """One customer: identifiers, traits, consents, predictions, recommendations, timeline."""
    try:
        view = customer_view(request.app.state.lifetide, profile_id)
    except CustomerNotFound:
        return render(
            request,
            "not_found.html",
            viewer,
            status_code=404,
            message=f"There is no customer profile {profile_id}",
            back_href="/customers",
            back_label="Search customers",
        )
    if view.merged:
        return RedirectResponse(f"/customers/{view.profile_id}?merged={profile_id}", 303)
    merged = request.query_params.get("merged", "")
    data = view.to_json()
    predictions: dict[str, Any] = data["predictions"] or {}
    headline = {key: predictions.get(key) for key in HEADLINE}
    return render(
        request,
        "customers/detail.html",
        viewer,
        c=view,
        name=" ".join(p for p in (view.first_name, view.last_name) if p) or None,
        merged_from=merged if merged.isdigit() else None,
        headline=headline,
        stage=predictions.get("lifecycle_stage"),
        featured=prediction_rows(predictions, FEATURED),
        predictions=prediction_rows(predictions),
        since=_since(view.created_at, predictions.get("first_seen_at")),
        campaign_name=campaign_name,
        event_detail=event_detail,
        timeline=view.timeline,
    )
