"""Holdouts: customers kept from marketing on purpose, so its lift can be measured (pure).

Two kinds, both sticky and deterministic (the bucket hash of `assignment`, so a holdout is
also a segment `bucket` condition in the warehouse):

- the global control group, `GLOBAL` (default 5% of customers): no marketing message of any
  journey reaches them, ever; their revenue against everyone else's is the lift of all
  marketing together;
- a journey's holdout (its definition's `holdout` percent): entrants it keeps from the
  journey's marketing messages while they still move through it (so its goal is still
  counted for them); the journey's conversion against theirs is its own lift.

Transactional messages are never held out.
"""

from __future__ import annotations

from dataclasses import dataclass

from lifetide.experiments.assignment import salt_of
from lifetide.segments.compiler import bucket_of

GLOBAL = "global-holdout"
HELD_OUT = "holdout"
TREATED = "treated"


def journey_key(journey_id: int) -> str:
    """The experiment key of a journey's holdout."""
    return f"journey-{journey_id}-holdout"


@dataclass(frozen=True)
class Holdout:
    """`percent` of customers (by the bucket hash of `key`) held out of some marketing."""

    key: str
    percent: float
    what: str

    def __post_init__(self) -> None:
        if not 0 <= self.percent <= 50:
            raise ValueError(f"a holdout is 0 to 50 percent of customers, not {self.percent}")
        salt_of(self.key)  # checks the key

    def arm_of(self, profile_id: int) -> str:
        """`HELD_OUT` or `TREATED`: always the same for this key and profile."""
        return HELD_OUT if bucket_of(profile_id, salt_of(self.key)) < self.percent else TREATED

    @property
    def reason(self) -> str:
        """Why a held-out customer's message was not sent."""
        return f"held out: {self.what} ({self.percent:g}% of customers)"


def global_holdout(percent: float) -> Holdout | None:
    """The global control group, or None when it is switched off (0%)."""
    return Holdout(GLOBAL, percent, "global control group") if percent > 0 else None


def journey_holdout(journey_id: int, percent: float) -> Holdout | None:
    """A journey's holdout, or None when the journey has none."""
    if percent <= 0:
        return None
    return Holdout(journey_key(journey_id), percent, f"journey {journey_id}'s holdout")
