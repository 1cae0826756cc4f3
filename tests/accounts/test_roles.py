"""The roles table: every role against every action, spelled out."""

from __future__ import annotations

import pytest

from lifetide.accounts.roles import ACTIONS, ROLES, can

EXPECTED = {
    # action: (admin, marketer, analyst)
    "read": (True, True, True),
    "segments.write": (True, True, False),
    "segments.export": (True, True, False),
    "users.manage": (True, False, False),
    "sources.manage": (True, False, False),
}


def test_the_table_covers_every_action() -> None:
    assert set(EXPECTED) == set(ACTIONS)
    assert ROLES == ("admin", "marketer", "analyst")


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_role_may_do_action(role: str, action: str) -> None:
    assert can(role, action) is EXPECTED[action][ROLES.index(role)]


def test_unknown_role_may_do_nothing_and_unknown_action_is_an_error() -> None:
    assert not any(can("owner", action) for action in ACTIONS)
    with pytest.raises(ValueError, match=r"unknown action 'segment\.write'; the actions are: read"):
        can("admin", "segment.write")
