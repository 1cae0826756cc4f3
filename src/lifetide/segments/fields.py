"""The field catalog: what a segment can ask about, each field's type, and the operators that fit.

The Studio's builder draws its pickers from this catalog and the validator checks definitions
against it, so the two cannot disagree. Prediction fields are listed only when the warehouse has
them (after `lifetide score`), with the type the warehouse gives them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

FieldType = Literal["number", "string", "boolean", "date", "timestamp", "list"]
FieldGroup = Literal["Profile", "Purchases", "Behaviour", "Predictions", "Engagement", "Segments"]
GROUPS: tuple[FieldGroup, ...] = (
    "Profile",
    "Purchases",
    "Behaviour",
    "Predictions",
    "Engagement",
    "Segments",
)

_MOMENT_OPERATORS = (
    "before",
    "after",
    "between",
    "within_last",
    "not_within_last",
    "is_set",
    "is_not_set",
)
OPERATORS: dict[FieldType, tuple[str, ...]] = {
    "number": ("eq", "ne", "gt", "gte", "lt", "lte", "between", "is_set", "is_not_set"),
    "string": ("eq", "ne", "in", "not_in", "contains", "starts_with", "is_set", "is_not_set"),
    "boolean": ("is_true", "is_false", "is_set", "is_not_set"),
    "date": _MOMENT_OPERATORS,
    "timestamp": _MOMENT_OPERATORS,
    "list": ("contains", "not_contains", "is_set", "is_not_set"),
}
# Operators that take no value, and those that take a list or a pair.
NO_VALUE = frozenset({"is_set", "is_not_set", "is_true", "is_false"})
LIST_VALUE = frozenset({"in", "not_in"})
PAIR_VALUE = frozenset({"between"})

OPERATOR_LABELS: dict[str, str] = {
    "eq": "is",
    "ne": "is not",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "between": "is between",
    "in": "is any of",
    "not_in": "is none of",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "is_set": "is known",
    "is_not_set": "is unknown",
    "is_true": "is yes",
    "is_false": "is no",
    "before": "is before",
    "after": "is after",
    "within_last": "is within the last",
    "not_within_last": "is not within the last",
}

# Where value suggestions come from (see segments.suggestions).
Suggest = Literal[
    "categories", "brands", "products", "promo_codes", "event_names", "campaigns", "values"
]


@dataclass(frozen=True)
class FieldSpec:
    """One field a condition can test: its key, label, type and group."""

    key: str
    label: str
    type: FieldType
    group: FieldGroup
    description: str = ""
    # Where the builder's value picker gets suggestions; None means free entry.
    suggest: Suggest | None = None
    # For a closed set of values (lifecycle stage), the values.
    choices: tuple[str, ...] = ()
    unit: str = ""

    @property
    def operators(self) -> tuple[str, ...]:
        """The operators that fit this field's type."""
        return OPERATORS[self.type]

    def to_json(self) -> dict[str, Any]:
        """The field as the Studio and the API show it."""
        out = asdict(self)
        out["operators"] = list(self.operators)
        out["choices"] = list(self.choices)
        return out


# Profile traits: columns of the warehouse `profiles` table (copied from identity resolution).
PROFILE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("email", "E-mail address", "string", "Profile", "Preferred e-mail address."),
    FieldSpec("email_domain", "E-mail domain", "string", "Profile", "The part after the @."),
    FieldSpec("phone", "Phone number", "string", "Profile", "E.164 phone number."),
    FieldSpec("first_name", "First name", "string", "Profile"),
    FieldSpec("last_name", "Last name", "string", "Profile"),
    FieldSpec("country", "Country", "string", "Profile", "ISO country code.", "values"),
    FieldSpec("region", "Region", "string", "Profile", "State or region code.", "values"),
    FieldSpec("city", "City", "string", "Profile", "", "values"),
    FieldSpec("postal_code", "Postal code", "string", "Profile"),
    FieldSpec("time_zone", "Time zone", "string", "Profile", "IANA time zone.", "values"),
    FieldSpec("birth_date", "Birth date", "date", "Profile"),
    FieldSpec("created_at", "Profile created", "timestamp", "Profile", "First record of them."),
    FieldSpec(
        "email_consent", "Accepts marketing e-mail", "boolean", "Profile", "Unknown if never said."
    ),
    FieldSpec("sms_consent", "Accepts marketing SMS", "boolean", "Profile"),
)

_STAGES = ("never_purchased", "new", "active", "loyal", "at_risk", "lapsed", "churned")
_TIERS = ("budget", "mid", "prestige", "unknown")
_DISCOUNT_CLASSES = ("promo_only", "promo_leaning", "full_price", "clearance_lover", "unknown")

# Known prediction columns with labels; any other column of the table is offered by its name.
_PREDICTION_LABELS: dict[str, tuple[str, str, str]] = {
    # column: (label, description, unit)
    "clv_12m": ("Predicted CLV (12 months)", "Expected spend over the next 12 months.", "$"),
    "p_alive": ("P(alive)", "Probability the customer is still active (0 to 1).", ""),
    "expected_orders_90d": ("Expected orders (90 days)", "BG/NBD expected purchases.", ""),
    "expected_order_value": ("Expected order value", "Gamma-Gamma spend per purchase.", "$"),
    "future_top20": ("Future top 20%", "Predicted to be in the top 20% by CLV.", ""),
    "p_purchase_30d": ("Purchase propensity (30 days)", "Probability of buying in 30 days.", ""),
    "p_return": ("Return propensity", "Probability the next purchases include a return.", ""),
    "lifecycle_stage": ("Lifecycle stage", "From never purchased to churned.", ""),
    "discount_sensitivity": ("Discount sensitivity", "Share of purchases on a discount.", ""),
    "discount_class": ("Discount behaviour", "Promo only, full price, clearance lover...", ""),
    "clearance_score": ("Clearance score", "Share of units bought on clearance.", ""),
    "price_tier": ("Preferred price tier", "Budget, mid or prestige.", ""),
    "top_categories": ("Top categories", "Up to three categories by spend share.", ""),
    "top_category": ("Top category", "The category with the largest spend share.", ""),
    "orders": ("Orders", "Purchases up to the last scoring.", ""),
    "net_spend": ("Total spend", "Net spend on goods, all time.", "$"),
    "average_order_value": ("Average order value", "", "$"),
    "recency_days": ("Days since last order", "", "days"),
    "tenure_days": ("Days as a customer", "", "days"),
    "spend_365d": ("Spend (365 days)", "", "$"),
    "orders_365d": ("Orders (365 days)", "", ""),
    "return_rate": ("Return rate", "Share of units returned.", ""),
    "discounted_share": ("Discounted share", "Share of units bought discounted.", ""),
    "email_open_rate_90d": ("E-mail open rate (90 days)", "", ""),
    "email_click_rate_90d": ("E-mail click rate (90 days)", "", ""),
    "days_since_seen": ("Days since last visit", "", "days"),
    "next_replenishment_due": ("Next replenishment due", "When a product runs out.", ""),
    "next_replenishment_product": ("Next replenishment product", "", ""),
}
_PREDICTION_CHOICES: dict[str, tuple[str, ...]] = {
    "lifecycle_stage": _STAGES,
    "price_tier": _TIERS,
    "discount_class": _DISCOUNT_CLASSES,
}
# Bookkeeping columns of the predictions table that are not customer facts.
_NOT_FIELDS = frozenset({"profile_id", "as_of", "scored_at"})


def field_type(warehouse_type: str) -> FieldType:
    """The catalog type of a warehouse (Ibis) type string such as 'float64' or '!int64'."""
    name = warehouse_type.lstrip("!").lower()
    if name.startswith(("int", "uint", "float", "decimal")):
        return "number"
    if name == "boolean":
        return "boolean"
    if name == "date":
        return "date"
    if name.startswith("timestamp"):
        return "timestamp"
    if name.startswith("array"):
        return "list"
    return "string"


def prediction_fields(columns: Mapping[str, str]) -> tuple[FieldSpec, ...]:
    """Prediction fields for the columns (name to Ibis type) the predictions table has."""
    out: list[FieldSpec] = []
    for name, wtype in columns.items():
        if name in _NOT_FIELDS:
            continue
        kind = field_type(wtype)
        if name in _PREDICTION_LABELS:
            label, doc, unit = _PREDICTION_LABELS[name]
        elif name.startswith("price_tier_"):
            category = name.removeprefix("price_tier_").replace("_", " ")
            label, doc, unit = f"Price tier in {category}", "Preferred tier there.", ""
        else:
            label, doc, unit = name.replace("_", " ").capitalize(), "", ""
        choices = _PREDICTION_CHOICES.get(name, _TIERS if name.startswith("price_tier_") else ())
        suggest: Suggest | None = (
            "categories" if name in ("top_categories", "top_category") else None
        )
        out.append(FieldSpec(name, label, kind, "Predictions", doc, suggest, choices, unit))
    return tuple(out)


@dataclass(frozen=True)
class Catalog:
    """The fields of one warehouse: profile traits and, after scoring, predictions."""

    profile: tuple[FieldSpec, ...] = PROFILE_FIELDS
    predictions: tuple[FieldSpec, ...] = ()

    def trait(self, key: str) -> FieldSpec | None:
        """The profile field called `key`, if any."""
        return next((f for f in self.profile if f.key == key), None)

    def prediction(self, key: str) -> FieldSpec | None:
        """The prediction field called `key`, if any."""
        return next((f for f in self.predictions if f.key == key), None)

    def to_json(self) -> dict[str, Any]:
        """Everything the builder needs: fields by group, operators and their labels."""
        return {
            "groups": list(GROUPS),
            "profile": [f.to_json() for f in self.profile],
            "predictions": [f.to_json() for f in self.predictions],
            "operators": {t: list(ops) for t, ops in OPERATORS.items()},
            "operator_labels": OPERATOR_LABELS,
            "engagement_actions": ["received", "opened", "clicked", "bounced", "unsubscribed"],
            "purchase_measures": ["count", "sum", "first", "last"],
            "count_operators": ["at_least", "at_most", "exactly", "never"],
        }


def catalog_for(prediction_columns: Mapping[str, str] | None) -> Catalog:
    """The catalog given the predictions table's columns (None when there is no such table)."""
    return Catalog(predictions=prediction_fields(prediction_columns or {}))
