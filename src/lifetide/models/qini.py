"""Qini curves: how well a ranking by predicted uplift finds the customers a treatment moves.

Radcliffe, N. J. (2007), "Using Control Groups to Target on Predicted Lift: Building and
Assessing Uplift Models", Direct Marketing Analytics Journal 1, 14-21.

An uplift model cannot be scored customer by customer: nobody is both mailed and not mailed.
It can be scored on a randomized experiment. Rank everyone by predicted uplift, best first; for
each depth of targeting, Radcliffe's Qini curve counts the treated responders in the top minus
the control responders there, scaled by the treated-to-control ratio: the incremental responses
that targeting that top would have brought.

Conventions here:

- The scale is the whole scored population: a treated responder counts N / N_t, a control
  responder -N / N_c (N_t, N_c: the treated and control customers in all of the data). Radcliffe
  counts in the treated group's units (1 and -N_t / N_c); the factor N / N_t is the same for
  every point, so shares and the normalized coefficient do not change, and the curve now reads
  "incremental responses if the top k were all treated". Its end point is
  N * (treated rate - control rate), the campaign's effect on everyone (the estimate a
  transformed outcome gives, Athey & Imbens 2015).
- The ratio is the overall N_t / N_c, as in Radcliffe (2007) and Guelman's R package `uplift`
  (scikit-uplift uses the ratio within each top instead; under randomization the two agree in
  expectation). So each customer adds a fixed amount, and the curve is a running sum.
- Tied scores are one step: the curve is evaluated where the score changes and is a straight
  line in between, which is exactly its expectation over a random order of the tied customers.
  A constant score is therefore random targeting, and any strictly increasing transform of the
  scores gives the same curve.
- Random targeting is the straight line from (0, 0) to the end point. The Qini coefficient is
  the area between the model's curve and that line, divided by the same area for the best
  possible order (every treated responder first, every control responder last): 1 for that
  order, about 0 for a random one, negative for a ranking worse than random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class QiniCurve:
    """The Qini curve at every change of score: targeted share -> incremental responses.

    `fraction[i]` of the scored customers (best scores first) are targeted and `gain[i]` is the
    incremental responses that brings, in the scored population's units (see the module notes);
    both start at 0 and `fraction` ends at 1. `n` is the number of scored customers.
    """

    fraction: FloatArray
    gain: FloatArray
    n: int

    @property
    def total_gain(self) -> float:
        """Incremental responses from treating everyone (the curve's end point)."""
        return float(self.gain[-1])

    def gain_at(self, fraction: float) -> float:
        """Incremental responses from targeting the top `fraction` (0 to 1) of the customers."""
        _check_fraction(fraction, allow_zero=True)
        return float(np.interp(fraction, self.fraction, self.gain))

    def share_at(self, fraction: float) -> float:
        """The share of all incremental responses that the top `fraction` brings.

        Random targeting brings `fraction` of them; a useful model brings more.
        """
        if self.total_gain <= 0:
            raise ValueError(
                f"the treatment brought no incremental responses overall "
                f"(total gain {self.total_gain:.4g}): a share of them means nothing"
            )
        return self.gain_at(fraction) / self.total_gain

    def area_over_random(self) -> float:
        """Area between this curve and random targeting's line, per scored customer.

        The x axis is the targeted share (0 to 1) and the y axis incremental responses per
        scored customer, so the result is in the outcome's rate units.
        """
        random_line = self.fraction * self.total_gain
        return _trapezoid(self.fraction, self.gain - random_line) / self.n


def qini_curve(y: ArrayLike, treatment: ArrayLike, score: ArrayLike) -> QiniCurve:
    """The Qini curve of ranking customers by `score` (highest first), Radcliffe (2007).

    `y` are outcomes (0/1 responses, or any finite amounts such as spend), `treatment` 0/1 or
    booleans (1: treated), `score` the predicted uplift; one entry per customer of a randomized
    experiment with both groups present.
    """
    outcome, treated, scores = _inputs(y, treatment, score)
    contribution = _contributions(outcome, treated)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    running = np.cumsum(contribution[order])
    # The last row of each run of tied scores: the curve's points.
    ends = np.flatnonzero(np.append(sorted_scores[1:] != sorted_scores[:-1], True))
    n = len(outcome)
    fraction = np.concatenate(([0.0], (ends + 1) / n))
    gain = np.concatenate(([0.0], running[ends]))
    return QiniCurve(fraction=fraction, gain=gain, n=n)


def perfect_qini_curve(y: ArrayLike, treatment: ArrayLike) -> QiniCurve:
    """The best Qini curve any ranking can reach on these outcomes (the normalizer).

    It targets customers in decreasing order of their own contribution: treated responders
    first, control responders last. Every prefix sum is then as large as it can be.
    """
    outcome, treated = _groups(y, treatment)
    contribution = np.sort(_contributions(outcome, treated))[::-1]
    n = len(outcome)
    fraction = np.arange(n + 1, dtype=np.float64) / n
    gain = np.concatenate(([0.0], np.cumsum(contribution)))
    return QiniCurve(fraction=fraction, gain=gain, n=n)


def qini_coefficient(
    y: ArrayLike, treatment: ArrayLike, score: ArrayLike, *, normalize: bool = True
) -> float:
    """Radcliffe's Qini coefficient of ranking by `score`: the area over random targeting.

    normalize=True (the default) divides that area by the best possible ranking's, giving 1
    for the best order, about 0 for a random one and less than 0 for worse than random.
    normalize=False gives the area itself (QiniCurve.area_over_random).
    """
    curve = qini_curve(y, treatment, score)
    area = curve.area_over_random()
    if not normalize:
        return area
    best = perfect_qini_curve(y, treatment).area_over_random()
    if best <= 0:
        raise ValueError(
            "no ranking can beat random targeting on these outcomes (every customer "
            "contributes the same, e.g. no responses at all): the Qini coefficient is undefined"
        )
    return area / best


def uplift_at_top(y: ArrayLike, treatment: ArrayLike, score: ArrayLike, fraction: float) -> float:
    """Treated minus control response rate among the top `fraction` (0 to 1] by score.

    The customers tied with the cut's score are taken in part (each with the weight that fills
    the top exactly), so the answer does not depend on their order. fraction=1 gives the
    average effect of the treatment on everyone.
    """
    outcome, treated, scores = _inputs(y, treatment, score)
    _check_fraction(fraction, allow_zero=False)
    weight = _top_weights(scores, fraction * len(scores))
    treated_weight = float(weight[treated].sum())
    control_weight = float(weight[~treated].sum())
    if treated_weight == 0 or control_weight == 0:
        missing = "treated" if treated_weight == 0 else "control"
        raise ValueError(
            f"the top {fraction:.1%} by score holds no {missing} customers: "
            "its uplift cannot be estimated"
        )
    treated_rate = float(weight[treated] @ outcome[treated]) / treated_weight
    control_rate = float(weight[~treated] @ outcome[~treated]) / control_weight
    return treated_rate - control_rate


def _contributions(outcome: FloatArray, treated: BoolArray) -> FloatArray:
    """Each customer's addition to the Qini curve: y N / N_t if treated, -y N / N_c if not."""
    n = len(outcome)
    n_treated = int(treated.sum())
    scale = np.where(treated, n / n_treated, -n / (n - n_treated))
    return np.asarray(outcome * scale, dtype=np.float64)


def _top_weights(scores: FloatArray, k: float) -> FloatArray:
    """Weights selecting the k (possibly fractional) best scores, ties with the cut shared."""
    # 0.3 * 10 is 3.0000000000000004: without this a 4th customer would get a sliver.
    if abs(k - round(k)) < 1e-9:
        k = float(round(k))
    order = np.sort(scores)[::-1]
    # The score of the customer at the cut: the last one at least partly selected.
    cut = order[min(len(order), int(np.ceil(k))) - 1]
    above = scores > cut
    tied = scores == cut
    share = (k - int(above.sum())) / int(tied.sum())
    return np.where(above, 1.0, np.where(tied, share, 0.0))


def _trapezoid(x: FloatArray, y: FloatArray) -> float:
    """The area under the piecewise-linear curve through (x, y)."""
    return float(((y[1:] + y[:-1]) * np.diff(x)).sum() / 2)


def _check_fraction(fraction: float, *, allow_zero: bool) -> None:
    """A ValueError unless fraction is a number in [0, 1] (or (0, 1])."""
    low_ok = fraction >= 0 if allow_zero else fraction > 0
    if isinstance(fraction, bool) or not np.isfinite(fraction) or not (low_ok and fraction <= 1):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"fraction must be a number in {interval}, got {fraction!r}")


def _inputs(
    y: ArrayLike, treatment: ArrayLike, score: ArrayLike
) -> tuple[FloatArray, BoolArray, FloatArray]:
    """Checked outcomes, treatment flags and scores, all equally long."""
    outcome, treated = _groups(y, treatment)
    scores = _vector(score, "score")
    if len(scores) != len(outcome):
        raise ValueError(f"score has {len(scores)} entries, y and treatment {len(outcome)}")
    return outcome, treated, scores


def _groups(y: ArrayLike, treatment: ArrayLike) -> tuple[FloatArray, BoolArray]:
    """Checked outcomes and treatment flags: 1-D, finite, equally long, both groups present."""
    outcome = _vector(y, "y")
    flags = _vector(treatment, "treatment")
    if len(flags) != len(outcome):
        raise ValueError(f"y has {len(outcome)} entries, treatment {len(flags)}")
    if len(outcome) == 0:
        raise ValueError("y and treatment are empty")
    binary = np.isin(flags, (0.0, 1.0))
    if not binary.all():
        others = np.unique(flags[~binary])[:5].tolist()
        raise ValueError(f"treatment must be 0/1 or booleans, also found {others}")
    treated = flags == 1
    if treated.all() or not treated.any():
        group = "control" if treated.all() else "treated"
        raise ValueError(f"treatment has no {group} customers: a Qini curve needs both groups")
    return outcome, treated


def _vector(values: ArrayLike, name: str) -> FloatArray:
    """A 1-D float array of finite values, or a ValueError naming the argument."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric (or booleans), got dtype {array.dtype}")
    array = array.astype(np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all():
        rows = np.flatnonzero(~np.isfinite(array))
        raise ValueError(f"{name} has {len(rows)} NaN or infinite values, first at row {rows[0]}")
    return array
