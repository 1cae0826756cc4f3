"""The identity graph (pure): which identifiers belong to one person.

Identifiers are nodes; a source record or an event that carries two identifiers is an edge.
Linked identifiers form a profile, within Segment-style safety rules:

- per-kind limits: a profile holds at most `limit[kind]` identifiers of a kind (one user id:
  two user ids are two accounts, so two people, until a person says otherwise);
- a blocklist of values shared by many people (`test@test.com`, a store's own phone number);
- priority: edges are taken strongest first, so when limits collide the strongest evidence
  has already been applied and the weaker link is the one refused.

A refused edge is kept as a conflict, with the rule that refused it, for review.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

KINDS = ("user_id", "email", "phone", "crm_id", "loyalty_id", "anonymous_id")

DEFAULT_LIMITS: dict[str, int] = {
    "user_id": 1,
    "email": 5,
    "phone": 5,
    "crm_id": 5,
    "loyalty_id": 5,
    # One person, many browsers and devices over the years.
    "anonymous_id": 100,
}

# Values that many people share or that mean "none": never evidence of one person.
BLOCKED_PATTERN = re.compile(r"^(?:[0\-]*|-1|null|none|nil|undefined|anonymous|unknown|n/?a)$")
DEFAULT_BLOCKED: frozenset[tuple[str, str]] = frozenset(
    {
        ("email", "test@test.com"),
        ("email", "noemail@noemail.com"),
        ("email", "none@none.com"),
        ("email", "no@email.com"),
        ("email", "customer@example.com"),
    }
)


@dataclass(frozen=True)
class Rules:
    """Limits per identifier kind and values that are never linked."""

    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    blocked: frozenset[tuple[str, str]] = DEFAULT_BLOCKED

    def is_blocked(self, kind: str, value: str) -> bool:
        """Whether (kind, value) is a shared or empty value, never evidence of a person."""
        return (kind, value) in self.blocked or bool(BLOCKED_PATTERN.match(value.lower()))


@dataclass(frozen=True)
class Conflict:
    """An edge that was refused, the kind whose limit it would have broken, and its reason."""

    a: int
    b: int
    kind: str
    reason: str


@dataclass
class Resolution:
    """A profile label per node, and the edges refused by the limits."""

    labels: np.ndarray
    conflicts: list[Conflict]


def resolve(
    kinds: Sequence[str],
    edges: Iterable[tuple[int, int, str]],
    rules: Rules | None = None,
) -> Resolution:
    """Group nodes into profiles; `edges` are (node, node, reason), strongest first.

    Nodes are 0..len(kinds)-1 with their identifier kind. Components that respect every
    limit are found in one vectorized pass; only components that would break a limit are
    walked edge by edge, so millions of nodes resolve in seconds.
    """
    rules = rules or Rules()
    edge_list = list(edges)
    n = len(kinds)
    labels = _components(n, edge_list)
    kind_codes = (
        np.array([KINDS.index(k) for k in kinds], dtype=np.int8) if n else np.zeros(0, np.int8)
    )
    over = _components_over_limit(labels, kind_codes, rules)
    if not over.size:
        return Resolution(labels, [])

    in_conflict = np.isin(labels, over)
    walk = [e for e in edge_list if in_conflict[e[0]]]
    finder = _LimitedUnionFind(kinds, rules)
    conflicts = [c for a, b, reason in walk if (c := finder.union(a, b, reason)) is not None]
    # Relabel the walked components with fresh labels past every existing one.
    offset = int(labels.max()) + 1 if n else 0
    for node in np.flatnonzero(in_conflict):
        labels[node] = offset + finder.find(int(node))
    _, labels = np.unique(labels, return_inverse=True)
    return Resolution(labels.astype(np.int64), conflicts)


def connected(n: int, edges: list[tuple[int, int, str]]) -> np.ndarray:
    """A component label per node (0..n-1) for undirected `edges`, with no limits."""
    return _components(n, edges)


def _components(n: int, edges: list[tuple[int, int, str]]) -> np.ndarray:
    if not edges:
        return np.arange(n, dtype=np.int64)
    a = np.fromiter((e[0] for e in edges), dtype=np.int64, count=len(edges))
    b = np.fromiter((e[1] for e in edges), dtype=np.int64, count=len(edges))
    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    found: np.ndarray = np.asarray(labels, dtype=np.int64)
    return found


def _components_over_limit(labels: np.ndarray, kind_codes: np.ndarray, rules: Rules) -> np.ndarray:
    over: list[np.ndarray] = []
    for code, kind in enumerate(KINDS):
        mask = kind_codes == code
        if not mask.any():
            continue
        counts = np.bincount(labels[mask], minlength=int(labels.max()) + 1)
        over.append(np.flatnonzero(counts > rules.limits.get(kind, 1)))
    found: np.ndarray = np.unique(np.concatenate(over)) if over else np.zeros(0, dtype=np.int64)
    return found


class _LimitedUnionFind:
    """Union-find whose unions are refused when the joined set would break a kind's limit."""

    def __init__(self, kinds: Sequence[str], rules: Rules) -> None:
        self._kinds = kinds
        self._rules = rules
        self._parent: dict[int, int] = {}
        self._counts: dict[int, dict[str, int]] = {}

    def find(self, node: int) -> int:
        parent = self._parent.setdefault(node, node)
        if parent != node:
            root = self.find(parent)
            self._parent[node] = root
            return root
        if node not in self._counts:
            self._counts[node] = {self._kinds[node]: 1}
        return node

    def union(self, a: int, b: int, reason: str) -> Conflict | None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        ca, cb = self._counts[ra], self._counts[rb]
        for kind in set(ca) | set(cb):
            if ca.get(kind, 0) + cb.get(kind, 0) > self._rules.limits.get(kind, 1):
                return Conflict(a, b, kind, reason)
        if ra > rb:  # the older (lower) root survives, keeping labels stable
            ra, rb = rb, ra
            ca, cb = cb, ca
        self._parent[rb] = ra
        for kind, count in cb.items():
            ca[kind] = ca.get(kind, 0) + count
        del self._counts[rb]
        return None
