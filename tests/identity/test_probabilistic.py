"""Splink's inputs: placeholder birth dates are not evidence."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from lifetide.identity.probabilistic import _without_placeholders


def test_a_birth_date_shared_far_beyond_chance_is_dropped() -> None:
    placeholder = dt.date(1900, 1, 1)
    real = [dt.date(1980, 1, 1) + dt.timedelta(days=i) for i in range(100)]
    dates = pa.chunked_array([pa.array([placeholder] * 60 + real + [None], pa.date32())])
    cleaned = _without_placeholders(dates).to_pylist()
    assert cleaned[:60] == [None] * 60
    assert cleaned[60:160] == real
    assert cleaned[160] is None


def test_nothing_dropped_when_no_date_stands_out() -> None:
    dates = pa.chunked_array([pa.array([dt.date(1990, 5, 1)] * 3, pa.date32())])
    assert _without_placeholders(dates).to_pylist() == [dt.date(1990, 5, 1)] * 3
