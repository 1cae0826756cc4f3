"""The plain-language verdict of one arm against the control, under a fixed horizon.

A test is read once, when every arm has reached the planned size: reading it again and again and
stopping at the first significant result makes false winners far likelier than alpha (Armitage,
McPherson & Rowe 1969; Johari et al. 2017). Before the horizon the verdict is "not enough data"
whatever the interval says; at it, an interval of the difference that excludes 0 names a winner,
and one that includes 0 says no difference. Without a planned size the test is taken to be over,
but only once each arm has `MIN_UNPLANNED` customers: below that the intervals rest on a normal
approximation that a handful of customers does not support (the usual n >= 30 rule for a mean,
and for a rate it lets at least a few successes and failures be seen), and a global control
group of four customers reading "no difference" would pass absence of evidence off as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

VerdictKind = Literal["not_enough_data", "treatment_wins", "control_wins", "no_difference"]
# Customers each arm needs before a test without a planned size is read (see the module).
MIN_UNPLANNED = 30


@dataclass(frozen=True)
class Verdict:
    """What to conclude from one comparison: a kind, the winning arm if any, and the words."""

    kind: VerdictKind
    winner: str | None
    text: str

    @property
    def short(self) -> str:
        """The verdict in a few words: "B wins", "no difference" or "not enough data"."""
        if self.winner is not None:
            return f"{self.winner} wins"
        return self.kind.replace("_", " ")


def decide(
    *,
    arm: str,
    control: str,
    low: float,
    high: float,
    n_arm: int,
    n_control: int,
    planned: int | None,
    confidence: float,
) -> Verdict:
    """The verdict on `arm` vs `control` from the interval (low, high) of arm minus control."""
    level = f"{confidence:.0%}"
    if planned is not None:
        if planned < 1:
            raise ValueError(f"the planned size per arm must be at least 1, got {planned}")
        if min(n_arm, n_control) < planned:
            return Verdict(
                "not_enough_data",
                None,
                f"not enough data: {arm} has {n_arm:,} and {control} {n_control:,} of the "
                f"{planned:,} planned per arm; read the result only when both reach it",
            )
    elif min(n_arm, n_control) < MIN_UNPLANNED:
        return Verdict(
            "not_enough_data",
            None,
            f"not enough data: {arm} has {n_arm:,} and {control} {n_control:,}; with no planned "
            f"size, each arm needs at least {MIN_UNPLANNED} before its result is read",
        )
    ending = "" if planned is not None else " (no planned size given: read as a finished test)"
    if low > 0:
        return Verdict(
            "treatment_wins",
            arm,
            f"{arm} wins: the {level} interval of the difference lies above 0{ending}",
        )
    if high < 0:
        return Verdict(
            "control_wins",
            control,
            f"{control} wins: the {level} interval of the difference lies below 0{ending}",
        )
    return Verdict(
        "no_difference",
        None,
        f"no difference: the {level} interval of the difference includes 0{ending}",
    )
