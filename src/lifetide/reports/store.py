"""Saving a report's content as JSON, so `lifetide report models` renders without refitting.

Only the report's own types are read back (a closed registry): the file is data, never code,
so a tampered file can fail to load but cannot run anything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from lifetide.models.diagnostics import ConditionalExpectations, TrackingCurve
from lifetide.models.evaluation import TopShareResult
from lifetide.reports.models import (
    ClassifierEvaluation,
    DataSummary,
    ModelParameters,
    ModelsReport,
    ParameterRow,
    RecommendationMetrics,
    TopShareComparison,
    Unavailable,
)

FORMAT = 1
_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        ClassifierEvaluation,
        ConditionalExpectations,
        DataSummary,
        ModelParameters,
        ModelsReport,
        ParameterRow,
        RecommendationMetrics,
        TopShareComparison,
        TopShareResult,
        TrackingCurve,
        Unavailable,
    )
}


class ReportDataError(ValueError):
    """The saved report data cannot be read; the message says what is wrong."""


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__type__": type(value).__name__, **fields}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        fields = {name: _encode(getattr(value, name)) for name in value._fields}
        return {"__type__": type(value).__name__, **fields}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": repr(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        return np.asarray(value["__array__"], dtype=np.dtype(value["dtype"]))
    if "__date__" in value:
        return dt.date.fromisoformat(value["__date__"])
    if "__float__" in value:
        return float(value["__float__"])
    if "__type__" in value:
        name = value["__type__"]
        cls = _TYPES.get(name)
        if cls is None:
            raise ReportDataError(f"unknown section type {name!r}")
        fields = {k: _decode(v) for k, v in value.items() if k != "__type__"}
        return cls(**fields)
    return {k: _decode(v) for k, v in value.items()}


def save_report(report: ModelsReport, path: Path) -> None:
    """Write the report's content to `path` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "report": _encode(report)}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload), encoding="utf-8")
    temporary.replace(path)


def load_report(path: Path) -> ModelsReport:
    """Read a report saved by `save_report`, or ReportDataError saying what is wrong."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ReportDataError(f"not readable as report data: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ReportDataError(f"expected report data format {FORMAT}")
    try:
        report = _decode(payload["report"])
    except (KeyError, TypeError, ValueError) as err:
        raise ReportDataError(f"malformed report data: {err}") from err
    if not isinstance(report, ModelsReport):
        raise ReportDataError("the file does not hold a models report")
    return report
