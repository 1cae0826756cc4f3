"""A segment definition: a tree of typed conditions, a union keyed on `type`.

These models only say what a definition may look like. Which fields exist and which operators fit
them is the catalog's business (`segments.fields`), checked by `segments.validate`; turning a tree
into members is `segments.compiler`, and into English `segments.describe`. All are pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Operators on one value. Which of them a field accepts depends on its type (see fields.py).
Operator = Literal[
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "starts_with",
    "is_set",
    "is_not_set",
    "is_true",
    "is_false",
    "before",
    "after",
    "within_last",
    "not_within_last",
]
Scalar = str | int | float | bool | dt.date
Value = Scalar | list[Scalar] | None

# How often something happened, compared with `count`.
CountOperator = Literal["at_least", "at_most", "exactly", "never"]
PurchaseMeasure = Literal["count", "sum", "first", "last"]
EngagementAction = Literal["received", "opened", "clicked", "bounced", "unsubscribed"]
Channel = Literal["online", "store"]


class Strict(BaseModel):
    """A node part: unknown keys are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(Strict):
    """When something happened: ever, in the last `days` days, or between two dates."""

    kind: Literal["ever", "last_days", "between"] = "ever"
    days: int | None = Field(None, ge=1, le=3650)
    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _complete(self) -> Window:
        if self.kind == "last_days" and self.days is None:
            raise ValueError("a 'last_days' window needs days")
        if self.kind == "between":
            if self.start is None or self.end is None:
                raise ValueError("a 'between' window needs start and end dates")
            if self.end < self.start:
                raise ValueError("a 'between' window ends before it starts")
        return self


class PropertyFilter(Strict):
    """A condition on one property of an event: a typed column or `properties.<name>`."""

    property: str = Field(min_length=1, max_length=200)
    op: Operator
    value: Value = None


class EventSpec(Strict):
    """An event by name, with optional property filters (all must hold)."""

    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list)


class Node(Strict):
    """Every node may carry an id the Studio uses to point at it."""

    id: str | None = Field(None, max_length=64)


class TraitCondition(Node):
    """A profile trait: e-mail domain, country, consent, when the profile was created."""

    type: Literal["trait"] = "trait"
    field: str
    op: Operator
    value: Value = None


class PredictionCondition(Node):
    """A computed feature or model output from the `predictions` table (CLV, stage, ...)."""

    type: Literal["prediction"] = "prediction"
    field: str
    op: Operator
    value: Value = None


class PurchaseFilters(Strict):
    """Which purchases count: every given filter must hold (lists mean any of)."""

    categories: list[str] = Field(default_factory=list)
    brands: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)
    promo_codes: list[str] = Field(default_factory=list)
    # True: only orders with some promo code; False: only orders without one.
    with_promo: bool | None = None
    channel: Channel | None = None
    discounted: bool | None = None
    returned: bool | None = None

    @property
    def on_lines(self) -> bool:
        """Whether a filter is about order lines (product, category...), not whole orders."""
        return bool(
            self.categories
            or self.brands
            or self.products
            or self.discounted is not None
            or self.returned is not None
        )


class PurchaseCondition(Node):
    """Purchases: how many, how much, first or last, filtered, within a window or ever.

    `count` counts orders (distinct orders with a matching line when filtered by line), `sum`
    adds net spend (of the matching lines when filtered by line), `first` and `last` are the
    dates of the first and last matching purchase and take date operators.
    """

    type: Literal["purchase"] = "purchase"
    measure: PurchaseMeasure = "count"
    op: Operator = "gte"
    value: Value = 1
    filters: PurchaseFilters = Field(default_factory=PurchaseFilters)
    window: Window = Field(default_factory=Window)


class EventCondition(Node):
    """Performed an event (with property filters) at least / at most / exactly n times, or never."""

    type: Literal["event"] = "event"
    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list)
    count_op: CountOperator = "at_least"
    count: int = Field(1, ge=0, le=1_000_000)
    window: Window = Field(default_factory=Window)


class SequenceCondition(Node):
    """Did A (within the window) and has not done B since the latest A.

    "Added to cart and no order since": compiled as "no B later than the latest A", the shape
    that runs as fast as hand-written SQL (an anti-join on a range ran 15x slower).
    """

    type: Literal["sequence"] = "sequence"
    did: EventSpec
    not_after: EventSpec
    window: Window = Field(default_factory=Window)


class EngagementCondition(Node):
    """E-mail engagement: received, opened, clicked, bounced or unsubscribed, n times or never."""

    type: Literal["engagement"] = "engagement"
    action: EngagementAction
    campaign_id: str | None = Field(None, max_length=200)
    count_op: CountOperator = "at_least"
    count: int = Field(1, ge=0, le=1_000_000)
    window: Window = Field(default_factory=Window)


class SegmentCondition(Node):
    """In (or not in) another saved segment, as of its last refresh."""

    type: Literal["segment"] = "segment"
    segment_id: int = Field(ge=1)
    op: Literal["in", "not_in"] = "in"


class BucketCondition(Node):
    """A stable random share of customers: bucket [start, end) of 100 by a hash of the profile.

    The same profile and salt always land in the same bucket, so a 10% holdout stays the same
    people from one refresh to the next; another salt draws an independent split.
    """

    type: Literal["bucket"] = "bucket"
    start: float = Field(0.0, ge=0, le=100)
    end: float = Field(ge=0, le=100)
    salt: str = Field("", max_length=100)

    @model_validator(mode="after")
    def _ordered(self) -> BucketCondition:
        if self.end <= self.start:
            raise ValueError("a bucket's end must be above its start")
        return self


class Group(Node):
    """All (`and`) or any (`or`) of its children; an empty group matches everyone."""

    type: Literal["group"] = "group"
    op: Literal["and", "or"] = "and"
    children: list[Rule] = Field(default_factory=list, max_length=200)


class Not(Node):
    """Everyone the child does not match."""

    type: Literal["not"] = "not"
    child: Rule


Condition = (
    TraitCondition
    | PredictionCondition
    | PurchaseCondition
    | EventCondition
    | SequenceCondition
    | EngagementCondition
    | SegmentCondition
    | BucketCondition
)
Rule = Annotated[Condition | Group | Not, Field(discriminator="type")]

Group.model_rebuild()
Not.model_rebuild()


class Definition(Strict):
    """A whole segment definition: its root node (usually a group)."""

    root: Rule = Field(default_factory=Group)


MAX_DEPTH = 12


def depth(node: Rule) -> int:
    """How deep the tree under `node` goes (a lone condition is 1)."""
    if isinstance(node, Group):
        return 1 + max((depth(c) for c in node.children), default=0)
    if isinstance(node, Not):
        return 1 + depth(node.child)
    return 1


def referenced_segments(node: Rule) -> set[int]:
    """Ids of the saved segments a definition refers to, at any depth."""
    if isinstance(node, SegmentCondition):
        return {node.segment_id}
    if isinstance(node, Group):
        return set().union(*(referenced_segments(c) for c in node.children))
    if isinstance(node, Not):
        return referenced_segments(node.child)
    return set()
