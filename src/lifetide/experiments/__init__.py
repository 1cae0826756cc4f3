"""Experiments: sticky assignment to arms, and the statistics that read a test honestly.

`stats` holds the formulas (pure, vectorized), `analysis` applies them to an experiment's table,
`verdict` turns an interval into words under a fixed horizon, and `assignment` puts customers in
arms. The methods are described in docs/experiments.md.
"""

from lifetide.experiments.analysis import (
    ArmResult,
    Comparison,
    ExperimentResult,
    Interval,
    OutcomeResult,
    SampleRatio,
    analyze,
    analyze_conversion,
    analyze_revenue,
    as_dict,
    outcome_kind,
    sample_ratio,
)
from lifetide.experiments.assignment import Arm, ArmRange, Assignment, arm_ranges, assign, salt_of
from lifetide.experiments.stats import sample_size
from lifetide.experiments.verdict import Verdict, decide

__all__ = [
    "Arm",
    "ArmRange",
    "ArmResult",
    "Assignment",
    "Comparison",
    "ExperimentResult",
    "Interval",
    "OutcomeResult",
    "SampleRatio",
    "Verdict",
    "analyze",
    "analyze_conversion",
    "analyze_revenue",
    "arm_ranges",
    "as_dict",
    "assign",
    "decide",
    "outcome_kind",
    "salt_of",
    "sample_ratio",
    "sample_size",
]
