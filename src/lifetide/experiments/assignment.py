"""Sticky, deterministic assignment of customers to an experiment's arms.

A customer's arm is a function of the experiment's key and the profile id only: the segment
compiler's bucket hash (`bucket_of`) with the salt "experiment:<key>" puts each profile in one of
10,000 buckets, and each arm owns a contiguous range of buckets in proportion to its weight. So
the same customer gets the same arm on every call, on every machine, and in the warehouse: an
arm's range is exactly a segment `bucket` condition (`ArmRange.start`, `.end`, `salt_of(key)`).
Another key draws an independent split. Changing the arms or weights of a running experiment
moves customers between arms; start a new key instead.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lifetide.segments.compiler import BUCKETS, bucket_of

# A BucketCondition's salt holds at most 100 characters.
MAX_KEY_LENGTH = 100 - len("experiment:")


@dataclass(frozen=True)
class Arm:
    """An arm of an experiment and its relative weight (any positive number)."""

    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class ArmRange:
    """The buckets an arm owns, as percentages: [start, end) of 100."""

    name: str
    start: float
    end: float


def salt_of(experiment_key: str) -> str:
    """The bucket salt of an experiment (use it in a segment `bucket` condition)."""
    key = experiment_key.strip()
    if not key:
        raise ValueError("an experiment key may not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"an experiment key has at most {MAX_KEY_LENGTH} characters: {key!r}")
    return f"experiment:{key}"


def arm_ranges(arms: Sequence[Arm]) -> tuple[ArmRange, ...]:
    """Each arm's share of the 10,000 buckets, in order, proportional to its weight."""
    if len(arms) < 2:
        raise ValueError(f"an experiment needs at least 2 arms, got {len(arms)}")
    names = [a.name for a in arms]
    for arm in arms:
        if not arm.name.strip():
            raise ValueError("an arm's name may not be empty")
        if names.count(arm.name) > 1:
            raise ValueError(f"arm {arm.name!r} is named twice")
        if not math.isfinite(arm.weight) or arm.weight <= 0:
            raise ValueError(f"arm {arm.name!r} needs a positive weight, got {arm.weight}")
    total = sum(a.weight for a in arms)
    ranges = []
    running = 0.0
    start = 0
    for arm in arms:
        running += arm.weight
        end = round(running / total * BUCKETS)
        if end <= start:
            raise ValueError(
                f"arm {arm.name!r} has too small a weight: each arm needs at least "
                f"{100 / BUCKETS:g}% of customers"
            )
        ranges.append(ArmRange(arm.name, start * 100 / BUCKETS, end * 100 / BUCKETS))
        start = end
    return tuple(ranges)


class Assignment:
    """The split of one experiment: which arm each profile is in."""

    def __init__(self, experiment_key: str, arms: Sequence[Arm]) -> None:
        self.salt = salt_of(experiment_key)
        self.ranges = arm_ranges(arms)
        self._ends = [round(r.end * BUCKETS / 100) for r in self.ranges]

    def arm_of(self, profile_id: int) -> str:
        """The arm of `profile_id`: always the same for this key and these arms."""
        bucket = round(bucket_of(profile_id, self.salt) * BUCKETS / 100)
        return self.ranges[bisect_right(self._ends, bucket)].name

    def arms_of(self, profile_ids: Iterable[int]) -> list[str]:
        """The arm of each profile, in order."""
        return [self.arm_of(p) for p in profile_ids]


def assign(experiment_key: str, profile_id: int, arms: Sequence[Arm]) -> str:
    """The arm of one profile in the experiment `experiment_key` with these arms."""
    return Assignment(experiment_key, arms).arm_of(profile_id)
