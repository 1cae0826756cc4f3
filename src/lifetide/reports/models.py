"""The model report (`lifetide report models`): one self-contained HTML file.

The scoring pipeline fills a `ModelsReport`; `render_models_report` writes it with charts as
inline SVG and tables, and no external reference, script or font. Every section may be left
out: `None`, or `Unavailable(reason)` to say why, renders as "not available: <reason>".
Rendering the same report twice gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from lifetide.models.evaluation import (
    LiftTable,
    brier,
    calibration_table,
    expected_calibration_error,
    lift_table,
    roc_auc,
)
from lifetide.reports import charts
from lifetide.reports.content import (
    ClassifierEvaluation,
    DataSummary,
    ModelParameters,
    ModelsReport,
    ParameterRow,
    RecommendationMetrics,
    Section,
    T,
    TopShareComparison,
    Unavailable,
)
from lifetide.reports.html import (
    figure,
    number,
    page,
    percent,
    report_style,
    table,
    unavailable,
)

# The data structures live in content.py; they are importable from here too.
__all__ = [
    "SECTIONS",
    "ClassifierEvaluation",
    "DataSummary",
    "ModelParameters",
    "ModelsReport",
    "ParameterRow",
    "RecommendationMetrics",
    "TopShareComparison",
    "Unavailable",
    "models_report_html",
    "render_models_report",
]

NOT_PROVIDED = "not computed for this report"


def _section(
    value: Section[T], body: Callable[[T], str], empty: Callable[[T], bool] = lambda _: False
) -> str:
    """The section's HTML, or the "not available" placeholder."""
    if value is None:
        return unavailable(NOT_PROVIDED)
    if isinstance(value, Unavailable):
        return unavailable(value.reason)
    if empty(value):
        return unavailable("no rows")
    return body(value)


class _Figures:
    """Numbers the page's figures, so each one's SVG ids are unique within the page."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, chart: Figure, label: str, caption: str) -> str:
        self.count += 1
        return figure(chart, label, f"f{self.count}", caption)


def _data(summary: DataSummary) -> str:
    rows = [
        ("Customers", number(summary.customers)),
        ("Buyers (at least one order)", number(summary.buyers)),
        ("Orders", number(summary.orders)),
        ("First order", summary.first_order.isoformat()),
        ("Last order", summary.last_order.isoformat()),
    ]
    return table(("", "Value"), rows)


def _parameters(params: ModelParameters) -> str:
    rows = [
        (r.name, number(r.estimate, 4), number(r.standard_error, 3), number(r.lower, 4),
         number(r.upper, 4))
        for r in params.rows
    ]  # fmt: skip
    facts = []
    if params.n_customers is not None:
        facts.append(f"{number(params.n_customers)} customers")
    if params.log_likelihood is not None:
        facts.append(f"log-likelihood {number(params.log_likelihood, 8)}")
    if params.converged is False:
        facts.append("the optimizer did NOT converge")
    header = ("Parameter", "Estimate", "Std. error", "95% lower", "95% upper")
    return table(header, rows) + (f"<p>{escape('; '.join(facts))}.</p>" if facts else "")


def _parameter_sections(report: ModelsReport) -> str:
    parts = []
    for title, value in (
        ("BG/NBD (repeat purchases)", report.bgnbd),
        ("Gamma-Gamma (spend per order)", report.gamma_gamma),
        ("Pareto/NBD (repeat purchases)", report.pareto_nbd),
    ):
        parts.append(f"<h3>{escape(title)}</h3>{_section(value, _parameters)}")
    note = (
        "<p>Intervals are 95%, symmetric on the log scale the parameters are fitted on. Wide "
        "intervals mean the data say little about a parameter.</p>"
    )
    return note + "".join(parts)


def _capture_at(lift: LiftTable, share: float) -> float | None:
    """The share of positives in the top `share` of scores, if a bin ends exactly there."""
    at = np.flatnonzero(np.isclose(lift.cumulative_share, share))
    return float(lift.cumulative_capture[at[0]]) if len(at) else None


def _classifier(evaluation: ClassifierEvaluation, figures: _Figures) -> str:
    try:
        y = np.asarray(evaluation.y_true, dtype=np.float64)
        p = np.asarray(evaluation.probability, dtype=np.float64)
        auc = roc_auc(y, p) if evaluation.auc is None else evaluation.auc
        lift, calibration = lift_table(y, p), calibration_table(y, p)
        metrics = (brier(y, p), expected_calibration_error(y, p))
    except ValueError as error:
        raise ValueError(f"classifier {evaluation.name!r}: {error}") from error
    rows = [
        (
            number(len(y)), percent(lift.base_rate), number(auc), number(metrics[0]),
            number(metrics[1]), f"{lift.lift[0]:.2f}×", percent(_capture_at(lift, 0.2)),
        )
    ]  # fmt: skip
    header = ("Test rows", "Base rate", "AUC", "Brier", "ECE", "Top-bin lift", "Top 20% capture")
    name = evaluation.name
    return (
        f"<h3>{escape(name)}</h3>"
        + table(header, rows, numeric=0)
        + figures(
            charts.lift(lift),
            f"{name}: response rate by score decile and cumulative gains",
            "Left: the share of positives in each tenth of the test set, highest scores first; "
            "a good model's bars fall steadily from well above the base rate to well below it. "
            "Right: the share of all positives found by targeting the top scores; the further "
            "above the diagonal (random targeting) and the closer to the perfect line, the "
            "better.",
        )
        + figures(
            charts.calibration_and_importance(calibration, evaluation.feature_importance),
            f"{name}: calibration and feature importance",
            "Left: observed rate against mean predicted probability in ten equal-count bins; a "
            "well-calibrated model's points lie on the diagonal, so its probabilities can be "
            "used as they are. Right: the features the model relies on most, as shares of the "
            "total importance.",
        )
    )


def _top_share(comparison: TopShareComparison, figures: _Figures) -> str:
    share = percent(comparison.share, 0)
    rows = [
        (label, percent(r.precision), percent(r.revenue_captured), number(r.n_selected))
        for label, r in (("Model", comparison.model), (comparison.naive_label, comparison.naive))
    ]
    rows.append(
        ("Best possible", "100.0%", percent(comparison.model.best_revenue_captured), rows[0][3])
    )
    header = ("Selection", "Precision", "Revenue captured", "Customers selected")
    chart = charts.top_share(comparison.model, comparison.naive, comparison.naive_label)
    caption = (
        f"Precision: the share of the selected {share} who turn out to be in the actual top "
        f"{share} by value next period. Revenue captured: their share of all next-period value. "
        "A useful model beats the naive rule on both, and approaches the best possible."
    )
    return table(header, rows) + figures(chart, f"Future top {share}: model and naive", caption)


def _recommendations(metrics: Sequence[RecommendationMetrics], figures: _Figures) -> str:
    ks = sorted({m.k for m in metrics})
    names = tuple(f"{what}@{'/'.join(map(str, ks))}" for what in ("Precision", "Recall", "NDCG"))
    rows = [
        (m.dataset, m.method, str(m.k), number(m.precision), number(m.recall), number(m.ndcg))
        for m in metrics
    ]
    by_dataset: dict[str, dict[str, list[float]]] = {}
    for m in metrics:
        by_dataset.setdefault(m.dataset, {})[m.method] = [m.precision, m.recall, m.ndcg]
    header = ("Dataset", "Method", "k", "Precision", "Recall", "NDCG")
    caption = (
        "Ranking quality on held-out baskets, higher is better on each metric. A useful "
        "personalised recommender (ALS, co-occurrence) clearly beats recommending the most "
        "popular products to everyone."
    )
    chart = charts.recommendations(by_dataset, names)
    return table(header, rows, numeric=2) + figures(chart, "Recommendation metrics", caption)


SECTIONS = (
    ("data", "Data"),
    ("parameters", "Model parameters"),
    ("tracking", "BG/NBD tracking"),
    ("conditional", "Conditional expectations"),
    ("classifiers", "Classifiers"),
    ("top-share", "Future top customers"),
    ("lifecycle", "Lifecycle stages"),
    ("recommendations", "Recommendations"),
    ("notes", "Notes"),
)


def models_report_html(report: ModelsReport) -> str:
    """The report as one HTML document (what `render_models_report` writes)."""
    figures = _Figures()
    with report_style():
        bodies = {
            "data": _section(report.data, _data),
            "parameters": _parameter_sections(report),
            "tracking": _section(
                report.tracking,
                lambda curve: figures(
                    charts.tracking(curve),
                    "BG/NBD tracking: repeat transactions, actual and predicted",
                    "Repeat transactions per period and cumulated, actual (solid) against the "
                    "BG/NBD fitted on the calibration period (dashed); the dotted line marks "
                    "the calibration end. A good fit tracks the actual curve through the "
                    "holdout, not only before the line.",
                ),
                lambda curve: len(curve.actual) == 0,
            ),
            "conditional": _section(
                report.conditional,
                lambda result: figures(
                    charts.conditional(result),
                    "Conditional expectations by calibration frequency",
                    "Mean repeat purchases in the holdout for customers grouped by their repeat "
                    "purchases in the calibration period, actual against BG/NBD's conditional "
                    "expectation. A good fit lies close in every group with many customers "
                    "(n under each label).",
                ),
                lambda result: len(result.count) == 0,
            ),
            "classifiers": _section(
                report.classifiers,
                lambda evaluations: "".join(_classifier(e, figures) for e in evaluations),
                lambda evaluations: len(evaluations) == 0,
            ),
            "top-share": _section(report.top_share, lambda c: _top_share(c, figures)),
            "lifecycle": _section(
                report.lifecycle,
                lambda stages: figures(
                    charts.counts(stages, "Customers"),
                    "Customers by lifecycle stage",
                    "Customers in each lifecycle stage on the report date. Watch the at-risk "
                    "and lapsed stages grow or shrink from one report to the next.",
                ),
                lambda stages: len(stages) == 0,
            ),
            "recommendations": _section(
                report.recommendations,
                lambda metrics: _recommendations(metrics, figures),
                lambda metrics: len(metrics) == 0,
            ),
            "notes": (
                "<ul class=notes>"
                + "".join(f"<li>{escape(note)}</li>" for note in report.notes)
                + "</ul>"
                if report.notes
                else unavailable("no notes")
            ),
        }
    contents = "".join(f'<li><a href="#{key}">{escape(title)}</a></li>' for key, title in SECTIONS)
    body = (
        f"<h1>{escape(report.title)}</h1>"
        f'<p class="meta">Models as of {report.as_of.isoformat()}</p>'
        f"<nav><ol>{contents}</ol></nav>"
        + "".join(
            f'<section id="{key}"><h2>{escape(title)}</h2>{bodies[key]}</section>\n'
            for key, title in SECTIONS
        )
    )
    return page(report.title, body)


def render_models_report(report: ModelsReport, path: str | Path) -> Path:
    """Write the report to `path` as one self-contained HTML file; returns the path."""
    target = Path(path)
    target.write_text(models_report_html(report), encoding="utf-8", newline="\n")
    return target
