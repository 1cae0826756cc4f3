"""The model report's charts, as matplotlib figures (no pyplot: figures are plain objects)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from lifetide.models.diagnostics import ConditionalExpectations, TrackingCurve
from lifetide.models.evaluation import CalibrationTable, LiftTable, TopShareResult
from lifetide.reports.html import ACTUAL, COLORS, PREDICTED

WIDE = (10.0, 3.6)
_THOUSANDS = FuncFormatter(lambda v, _: f"{v:,.0f}")


def _new(size: tuple[float, float] = WIDE, panels: int = 1) -> tuple[Figure, list[Axes]]:
    """A figure with side-by-side panels, laid out so labels never overlap."""
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, list(axes)


def _unit_name(days: float) -> str:
    """What one period of the tracking curve is called on its axis."""
    return {7.0: "Week", 1.0: "Day"}.get(days, f"Period ({days:g} days)")


def tracking(curve: TrackingCurve) -> Figure:
    """Weekly and cumulative repeat transactions, actual against predicted."""
    fig, (weekly, cumulative) = _new(panels=2)
    start, unit = float(curve.period_start[0]), curve.time_unit_days
    x = (curve.period_end - start) / unit
    split = (curve.calibration_end - start) / unit
    for ax, actual, predicted, title in (
        (weekly, curve.actual, curve.predicted, "Repeat transactions per period"),
        (cumulative, curve.cumulative_actual, curve.cumulative_predicted, "Cumulative"),
    ):
        ax.plot(x, actual, color=ACTUAL, linewidth=1.4, label="Actual")
        ax.plot(x, predicted, color=PREDICTED, linewidth=1.4, linestyle="--", label="BG/NBD")
        ax.axvline(split, color="#888888", linewidth=1, linestyle=":")
        ax.set_title(title, loc="left")
        ax.set_xlabel(f"{_unit_name(unit)} since the first acquisition")
        ax.set_ylim(bottom=0)
        ax.set_xlim(0, float(x[-1]))
        ax.yaxis.set_major_formatter(_THOUSANDS)
        ax.text(
            split, 0.02, " holdout →", transform=ax.get_xaxis_transform(), color="#666666",
            fontsize=8, ha="left", va="bottom",
        )  # fmt: skip
    weekly.legend(loc="upper right")
    return fig


def conditional(result: ConditionalExpectations) -> Figure:
    """Mean holdout repeat purchases by calibration frequency, actual against predicted."""
    fig, (ax,) = _new((7.0, 3.6))
    x = np.arange(len(result.label))
    ax.plot(x, result.actual, color=ACTUAL, marker="o", linewidth=1.4, label="Actual")
    ax.plot(
        x, result.predicted, color=PREDICTED, marker="s", linestyle="--", linewidth=1.4,
        label="BG/NBD",
    )  # fmt: skip
    ax.set_xticks(x, [f"{lab}\nn={n:,}" for lab, n in zip(result.label, result.count, strict=True)])
    ax.set_xlabel("Repeat purchases in the calibration period")
    ax.set_ylabel("Mean repeat purchases in holdout")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    return fig


def lift(table: LiftTable) -> Figure:
    """Response rate by score decile (best first) and the cumulative gains curve."""
    fig, (rate, gains) = _new(panels=2)
    bins = np.arange(1, len(table.count) + 1)
    rate.bar(bins, table.response_rate, color=COLORS[0], width=0.7)
    rate.axhline(table.base_rate, color=ACTUAL, linestyle="--", linewidth=1, label="Base rate")
    rate.set_xticks(bins)
    rate.set_xlabel("Score bin (1 = highest scores)")
    rate.set_ylabel("Response rate")
    rate.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    rate.set_title("Response rate by score bin", loc="left")
    rate.legend(loc="upper right")

    share = np.concatenate(([0.0], table.cumulative_share))
    captured = np.concatenate(([0.0], table.cumulative_capture))
    gains.plot(share, captured, color=COLORS[0], marker="o", markersize=3, label="Model")
    gains.plot([0, 1], [0, 1], color="#888888", linestyle=":", label="Random")
    # A perfect score ranks every positive first: all are found once base_rate is targeted.
    gains.plot(
        [0, table.base_rate, 1], [0, 1, 1], color=COLORS[2], linestyle="--", linewidth=1,
        label="Perfect",
    )  # fmt: skip
    gains.set_xlabel("Share of customers targeted (highest scores first)")
    gains.set_ylabel("Share of positives captured")
    gains.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    gains.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    gains.set_xlim(0, 1)
    gains.set_ylim(0, 1.02)
    gains.set_title("Cumulative gains", loc="left")
    gains.legend(loc="lower right")
    return fig


def calibration_and_importance(
    table: CalibrationTable, importance: Sequence[tuple[str, float]], top: int = 12
) -> Figure:
    """A reliability diagram beside the largest feature importances."""
    fig, (reliability, bars) = _new(panels=2)
    top_value = float(max(table.mean_predicted.max(), table.observed_rate.max(), 0.01)) * 1.08
    limit = min(1.0, top_value)
    reliability.plot([0, limit], [0, limit], color="#888888", linestyle=":", label="Perfect")
    reliability.plot(
        table.mean_predicted, table.observed_rate, color=COLORS[0], marker="o", markersize=4,
        label="Model",
    )  # fmt: skip
    reliability.set_xlim(0, limit)
    reliability.set_ylim(0, limit)
    reliability.set_xlabel("Mean predicted probability (equal-count bins)")
    reliability.set_ylabel("Observed rate")
    reliability.set_title("Calibration", loc="left")
    reliability.legend(loc="upper left")

    bars.set_title("Feature importance (share)", loc="left")
    shown = sorted(importance, key=lambda item: (-item[1], item[0]))[:top]
    if shown:
        names = [_shorten(name) for name, _ in shown][::-1]
        shares = [value for _, value in shown][::-1]
        positions = np.arange(len(shown))
        bars.barh(positions, shares, color=COLORS[1], height=0.7)
        bars.set_yticks(positions, names)
        bars.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        bars.grid(axis="y", visible=False)
    else:
        bars.set_axis_off()
        bars.text(0.5, 0.5, "no feature importances given", ha="center", transform=bars.transAxes)
    return fig


def _shorten(name: str, length: int = 32) -> str:
    """A label short enough for an axis."""
    return name if len(name) <= length else name[: length - 1] + "…"


def top_share(model: TopShareResult, naive: TopShareResult, naive_label: str) -> Figure:
    """Precision and revenue captured by the model's and the naive rule's top share."""
    fig, (ax,) = _new((7.0, 3.4))
    metrics = ("Precision", "Revenue captured")
    x = np.arange(len(metrics))
    for offset, (result, label, color) in enumerate(
        ((model, "Model", COLORS[0]), (naive, naive_label, COLORS[1]))
    ):
        values = [result.precision, result.revenue_captured]
        drawn = ax.bar(x + (offset - 0.5) * 0.36, values, width=0.34, color=color, label=label)
        ax.bar_label(drawn, labels=[f"{v:.0%}" for v in values], padding=2, fontsize=8)
    best = model.best_revenue_captured
    ax.hlines(best, 0.6, 1.4, color=ACTUAL, linestyle="--", linewidth=1)
    ax.text(1.4, best, " best possible", va="center", ha="left", fontsize=8, color="#444444")
    ax.set_xticks(x, metrics)
    ax.set_xlim(-0.6, 1.9)
    ax.set_ylim(0, 1.12)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", ncols=2)
    return fig


def counts(values: Mapping[str, int], xlabel: str) -> Figure:
    """Horizontal bars of counts by category, in the given order, top to bottom."""
    names = list(values)
    fig, (ax,) = _new((7.0, max(1.6, 0.42 * len(names) + 0.8)))
    positions = np.arange(len(names))[::-1]
    drawn = ax.barh(positions, [values[n] for n in names], color=COLORS[2], height=0.65)
    ax.bar_label(drawn, labels=[f"{values[n]:,}" for n in names], padding=3, fontsize=8)
    ax.set_yticks(positions, [_shorten(n) for n in names])
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_formatter(_THOUSANDS)
    ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.margins(x=0.12)
    ax.grid(axis="y", visible=False)
    return fig


def recommendations(
    by_dataset: Mapping[str, Mapping[str, Sequence[float]]], metric_names: Sequence[str]
) -> Figure:
    """Grouped bars per dataset: for each metric, one bar per method."""
    fig, axes = _new((10.0, 3.6), panels=len(by_dataset))
    # Methods keep the order they were given in (say ALS, co-occurrence, popularity).
    methods = list(dict.fromkeys(m for by_method in by_dataset.values() for m in by_method))
    x = np.arange(len(metric_names))
    width = 0.8 / len(methods)
    handles: dict[str, Rectangle] = {}
    for ax, (dataset, by_method) in zip(axes, by_dataset.items(), strict=True):
        for i, method in enumerate(methods):
            if method not in by_method:
                continue
            offset = (i - (len(methods) - 1) / 2) * width
            color = COLORS[i % len(COLORS)]
            drawn = ax.bar(x + offset, by_method[method], width * 0.92, color=color, label=method)
            ax.bar_label(drawn, fmt="%.2f", padding=1, fontsize=7)
            handles[method] = drawn.patches[0]
        ax.set_xticks(x, list(metric_names))
        ax.set_title(_shorten(dataset, 48), loc="left")
        ax.set_ylim(0, max(0.05, max(max(v) for v in by_method.values()) * 1.2))
        ax.grid(axis="x", visible=False)
    fig.legend(list(handles.values()), list(handles), loc="outside upper right", ncols=len(methods))
    return fig
