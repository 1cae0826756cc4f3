"""Holdouts: the share asked for, sticky, independent of each other, and checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifetide.experiments.assignment import salt_of
from lifetide.experiments.holdouts import (
    GLOBAL,
    HELD_OUT,
    TREATED,
    Holdout,
    global_holdout,
    journey_holdout,
    journey_key,
)
from lifetide.segments.compiler import bucket_of

PROFILES = range(1, 200_001)


@pytest.mark.parametrize("percent", [1.0, 5.0, 12.5, 50.0])
def test_the_share_held_out_is_the_percent_asked_for(percent: float) -> None:
    holdout = Holdout(GLOBAL, percent, "global control group")
    held = sum(holdout.arm_of(p) == HELD_OUT for p in PROFILES)
    share = held / len(PROFILES) * 100
    # Binomial standard error at n = 200,000 is at most 0.11 points: 4 of them.
    assert abs(share - percent) < 0.45


def test_journey_holdouts_are_independent_of_the_global_one() -> None:
    everyone = global_holdout(10.0)
    journey = journey_holdout(7, 10.0)
    assert everyone is not None and journey is not None
    both = sum(everyone.arm_of(p) == HELD_OUT and journey.arm_of(p) == HELD_OUT for p in PROFILES)
    # Independent: about 1% of customers are in both (10% of 10%).
    assert abs(both / len(PROFILES) * 100 - 1.0) < 0.15


@given(st.integers(min_value=1, max_value=2**62), st.floats(min_value=0.01, max_value=50))
def test_an_arm_is_sticky_and_is_the_warehouse_bucket(profile: int, percent: float) -> None:
    holdout = Holdout(journey_key(3), percent, "journey 3's holdout")
    arm = holdout.arm_of(profile)
    assert arm == holdout.arm_of(profile)
    assert arm in (HELD_OUT, TREATED)
    # The same bucket a segment condition `bucket(salt) < percent` computes in the warehouse.
    assert (arm == HELD_OUT) == (bucket_of(profile, salt_of(journey_key(3))) < percent)


def test_none_when_switched_off_and_a_reason_that_says_which() -> None:
    assert global_holdout(0) is None
    assert journey_holdout(3, 0) is None
    journey = journey_holdout(3, 10)
    assert journey is not None
    assert journey.reason == "held out: journey 3's holdout (10% of customers)"


@pytest.mark.parametrize("percent", [-1, 50.5, 100])
def test_a_holdout_is_at_most_half_of_customers(percent: float) -> None:
    with pytest.raises(ValueError, match="0 to 50 percent"):
        Holdout(GLOBAL, percent, "x")
