"""The identity graph: links become profiles within the limits, strongest evidence first."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifetide.identity.graph import KINDS, Rules, resolve


def groups(
    kinds: list[str], edges: list[tuple[int, int, str]], rules: Rules | None = None
) -> list[set[int]]:
    labels = resolve(kinds, edges, rules).labels
    found: dict[int, set[int]] = {}
    for node, label in enumerate(labels):
        found.setdefault(int(label), set()).add(node)
    return sorted(found.values(), key=min)


def test_shared_identifiers_join_into_one_profile() -> None:
    kinds = ["user_id", "email", "anonymous_id", "anonymous_id", "phone"]
    edges = [(0, 1, "record"), (2, 0, "identify"), (3, 0, "identify"), (4, 1, "record")]
    assert groups(kinds, edges) == [{0, 1, 2, 3, 4}]


def test_two_user_ids_never_share_a_profile() -> None:
    # Two accounts use one shared family e-mail: the e-mail stays with the first account.
    kinds = ["user_id", "email", "user_id"]
    resolution = resolve(kinds, [(0, 1, "record A"), (2, 1, "record B")])
    assert groups(kinds, [(0, 1, "record A"), (2, 1, "record B")]) == [{0, 1}, {2}]
    assert [(c.a, c.b, c.kind, c.reason) for c in resolution.conflicts] == [
        (2, 1, "user_id", "record B")
    ]


def test_priority_order_decides_which_link_wins() -> None:
    kinds = ["anonymous_id", "user_id", "user_id"]
    # A shared browser: the earlier (stronger) link keeps it.
    assert groups(kinds, [(0, 2, "login"), (0, 1, "login")]) == [{0, 2}, {1}]
    assert groups(kinds, [(0, 1, "login"), (0, 2, "login")]) == [{0, 1}, {2}]


def test_conflicting_component_does_not_disturb_the_others() -> None:
    kinds = ["user_id", "email", "user_id", "user_id", "email"]
    edges = [(0, 1, "a"), (2, 1, "b"), (3, 4, "c")]
    assert groups(kinds, edges) == [{0, 1}, {2}, {3, 4}]


@pytest.mark.parametrize(
    ("kind", "value", "blocked"),
    [
        ("email", "test@test.com", True),
        ("phone", "0000000000", True),
        ("user_id", "-1", True),
        ("user_id", "null", True),
        ("anonymous_id", "anonymous", True),
        ("email", "ana@example.com", False),
        ("user_id", "C0001", False),
    ],
)
def test_blocklist(kind: str, value: str, blocked: bool) -> None:
    assert Rules().is_blocked(kind, value) is blocked


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(KINDS), min_size=1, max_size=25).flatmap(
        lambda kinds: st.tuples(
            st.just(kinds),
            st.lists(
                st.tuples(
                    st.integers(0, len(kinds) - 1), st.integers(0, len(kinds) - 1), st.just("e")
                ),
                max_size=40,
            ),
        )
    )
)
def test_limits_always_hold_and_unrefused_links_are_kept(
    case: tuple[list[str], list[tuple[int, int, str]]],
) -> None:
    kinds, edges = case
    rules = Rules()
    resolution = resolve(kinds, edges, rules)
    labels = resolution.labels
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        for kind in KINDS:
            assert sum(kinds[m] == kind for m in members) <= rules.limits[kind]
    refused = {(c.a, c.b) for c in resolution.conflicts}
    for a, b, _ in edges:
        if (a, b) not in refused:
            assert labels[a] == labels[b]
