"""Checking a segment definition against the catalog, pointing at the node that is wrong.

Each problem carries a `loc`, the path from the definition to the failing part, e.g.
("root", "children", 1, "value"), so the API answers 422 with it and the Studio shows the
message next to that condition.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lifetide.segments.fields import Catalog, FieldSpec
from lifetide.segments.rules import (
    MAX_DEPTH,
    Definition,
    EngagementCondition,
    EventCondition,
    EventSpec,
    Group,
    Not,
    PredictionCondition,
    PurchaseCondition,
    Rule,
    SegmentCondition,
    SequenceCondition,
    TraitCondition,
    depth,
)
from lifetide.segments.values import BadValue, property_ref, typed

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition, and where."""

    loc: Loc
    message: str

    def to_json(self) -> dict[str, Any]:
        """As FastAPI reports validation errors: `loc` and `msg`."""
        return {"loc": list(self.loc), "msg": self.message}


class InvalidDefinition(ValueError):
    """A definition that cannot be used; `problems` says what and where."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0]
        where = ".".join(str(part) for part in first.loc)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{where}: {first.message}{more}")

    def to_json(self) -> list[dict[str, Any]]:
        """Every problem as {"loc": [...], "msg": "..."}."""
        return [p.to_json() for p in self.problems]


def parse_definition(data: Any) -> Definition:
    """The definition in `data` (a dict or JSON text); InvalidDefinition if its shape is wrong."""
    try:
        if isinstance(data, str | bytes):
            return Definition.model_validate_json(data)
        return Definition.model_validate(data)
    except ValidationError as err:
        problems = [
            Problem(_clean_loc(e["loc"]), _message(e)) for e in err.errors(include_url=False)
        ]
        raise InvalidDefinition(problems) from None


def _clean_loc(loc: tuple[Any, ...]) -> Loc:
    # Pydantic adds the chosen union member's tag ("group", "trait") to the path; the Studio
    # addresses nodes by position only, so tags that name a node type are dropped.
    tags = {
        "trait",
        "prediction",
        "purchase",
        "event",
        "sequence",
        "engagement",
        "segment",
        "bucket",
        "group",
        "not",
    }
    out: list[str | int] = []
    for i, part in enumerate(loc):
        previous = loc[i - 1] if i else None
        names_node = previous in ("root", "child") or isinstance(previous, int)
        if isinstance(part, str) and part in tags and names_node:
            continue
        out.append(part if isinstance(part, int) else str(part))
    return tuple(out)


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def check(definition: Definition, catalog: Catalog, segments: Mapping[int, str]) -> list[Problem]:
    """Everything wrong with a well-formed definition given the fields and saved segments."""
    problems: list[Problem] = []
    if depth(definition.root) > MAX_DEPTH:
        problems.append(Problem(("root",), f"groups nest at most {MAX_DEPTH} deep"))
    for loc, node in _walk(definition.root, ("root",)):
        problems.extend(_check_node(node, loc, catalog, segments))
    return problems


def validated(data: Any, catalog: Catalog, segments: Mapping[int, str]) -> Definition:
    """The definition in `data`, parsed and checked; InvalidDefinition says what and where."""
    definition = parse_definition(data)
    problems = check(definition, catalog, segments)
    if problems:
        raise InvalidDefinition(problems)
    return definition


def _walk(node: Rule, loc: Loc) -> Iterator[tuple[Loc, Rule]]:
    yield loc, node
    if isinstance(node, Group):
        for i, child in enumerate(node.children):
            yield from _walk(child, (*loc, "children", i))
    elif isinstance(node, Not):
        yield from _walk(node.child, (*loc, "child"))


def _check_node(
    node: Rule, loc: Loc, catalog: Catalog, segments: Mapping[int, str]
) -> list[Problem]:
    if isinstance(node, TraitCondition):
        return _check_field(catalog.trait(node.field), "profile", node, loc)
    if isinstance(node, PredictionCondition):
        if not catalog.predictions:
            return [Problem((*loc, "field"), "there are no predictions yet: run `lifetide score`")]
        return _check_field(catalog.prediction(node.field), "prediction", node, loc)
    if isinstance(node, PurchaseCondition):
        kind = "timestamp" if node.measure in ("first", "last") else "number"
        return _check_value(kind, node.op, node.value, loc)
    if isinstance(node, EventCondition):
        return _check_spec(EventSpec(event=node.event, where=node.where), loc)
    if isinstance(node, SequenceCondition):
        return [
            *_check_spec(node.did, (*loc, "did")),
            *_check_spec(node.not_after, (*loc, "not_after")),
        ]
    if isinstance(node, EngagementCondition):
        return []
    if isinstance(node, SegmentCondition) and node.segment_id not in segments:
        return [Problem((*loc, "segment_id"), f"there is no saved segment {node.segment_id}")]
    return []


def _check_field(
    spec: FieldSpec | None, kind: str, node: TraitCondition | PredictionCondition, loc: Loc
) -> list[Problem]:
    if spec is None:
        return [Problem((*loc, "field"), f"unknown {kind} field {node.field!r}")]
    problems = _check_value(spec.type, node.op, node.value, loc)
    if not problems and spec.choices and node.op in ("eq", "ne", "in", "not_in"):
        values = node.value if isinstance(node.value, list) else [node.value]
        wrong = [v for v in values if str(v) not in spec.choices]
        if wrong:
            allowed = ", ".join(spec.choices)
            problems.append(
                Problem((*loc, "value"), f"{wrong[0]!r} is not a {spec.label}; use {allowed}")
            )
    return problems


def _check_value(kind: Any, op: str, value: Any, loc: Loc) -> list[Problem]:
    try:
        typed(kind, op, value)
    except BadValue as err:
        where = "op" if "operator" in str(err) and "needs" not in str(err) else "value"
        return [Problem((*loc, where), str(err))]
    return []


def _check_spec(spec: EventSpec, loc: Loc) -> list[Problem]:
    problems: list[Problem] = []
    for i, condition in enumerate(spec.where):
        here = (*loc, "where", i)
        try:
            ref = property_ref(condition.property, condition.value)
        except BadValue as err:
            problems.append(Problem((*here, "property"), str(err)))
            continue
        problems.extend(_check_value(ref.type, condition.op, condition.value, here))
    return problems
