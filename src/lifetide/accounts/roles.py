"""Who may do what in the Studio: three roles and a small explicit table of their actions."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["admin", "marketer", "analyst"]
ROLES: tuple[str, ...] = get_args(Role)

# Each action with the words used when refusing it ("your role, analyst, may not ...").
ACTIONS: dict[str, str] = {
    "read": "read the Studio",
    "segments.write": "save or refresh segments",
    "segments.export": "export segments or push them to destinations",
    "users.manage": "manage users",
    "sources.manage": "manage tracking sources and write keys",
}

# Listed out in full rather than derived, so a reviewer sees every grant at a glance.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {"read", "segments.write", "segments.export", "users.manage", "sources.manage"}
    ),
    "marketer": frozenset({"read", "segments.write", "segments.export"}),
    "analyst": frozenset({"read"}),
}


def check_action(action: str) -> str:
    """`action` if it is one we know; a ValueError naming the known ones otherwise."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; the actions are: {', '.join(ACTIONS)}")
    return action


def can(role: str, action: str) -> bool:
    """Whether a user with `role` may do `action`; an unknown role may do nothing."""
    return check_action(action) in PERMISSIONS.get(role, frozenset())
