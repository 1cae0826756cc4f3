"""Which customer records are one person, from identifiers they share (pure).

A mailbox (the e-mail match key: case, dots in Gmail and +tags do not matter) is one person's.
A phone joins records only when their last names agree, because households share phones.
A loyalty card is one person's. A value shared by more than `max_share` records is no evidence
at all (a store's own phone typed in for walk-ins, a placeholder address) and is reported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from lifetide.identity.graph import Rules, connected

EVIDENCE = (("email_key", "email"), ("phone", "phone"), ("loyalty_id", "loyalty_id"))


@dataclass(frozen=True)
class Link:
    """Two records joined, the rule that joined them, and the shared value."""

    a: int
    b: int
    rule: str
    value: str


@dataclass
class RecordMatch:
    """A person label per record, the links that made them, and the values set aside."""

    labels: np.ndarray
    links: list[Link]
    overused: dict[tuple[str, str], int] = field(default_factory=dict)


def match_records(records: pa.Table, rules: Rules | None = None, max_share: int = 5) -> RecordMatch:
    """Group records that share a mailbox, a phone (same last name) or a loyalty card."""
    rules = rules or Rules()
    n = records.num_rows
    last_names = records.column("last_name_key").to_pylist()
    links: list[Link] = []
    overused: dict[tuple[str, str], int] = {}
    for column, kind in EVIDENCE:
        groups: dict[str, list[int]] = defaultdict(list)
        for index, value in enumerate(records.column(column).to_pylist()):
            if value is not None and not rules.is_blocked(kind, value):
                groups[value].append(index)
        for value, members in groups.items():
            if len(members) < 2:
                continue
            if len(members) > max_share:
                overused[(kind, value)] = len(members)
                continue
            links.extend(_group_links(members, kind, value, last_names))
    labels = connected(n, [(link.a, link.b, link.rule) for link in links])
    return RecordMatch(labels=labels, links=links, overused=overused)


def _group_links(
    members: list[int], kind: str, value: str, last_names: list[str | None]
) -> list[Link]:
    if kind != "phone":
        return [Link(members[0], other, f"shared {kind}", value) for other in members[1:]]
    # Groups are at most max_share records, so every pair can be weighed.
    return [
        Link(a, b, "shared phone", value)
        for i, a in enumerate(members)
        for b in members[i + 1 :]
        if _same_family_name(last_names[a], last_names[b])
    ]


def _same_family_name(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b
