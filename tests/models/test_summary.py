"""Transactions to (x, t_x, T, m_x): lifetimes' conventions, input kinds and checks."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lifetide.models import summarize_transactions
from lifetide.models.summary import Period

# 2024-01-01 is a Monday. Customer a buys twice on the first day (one purchase of 15) and
# again on the 10th; b once; c on the 3rd and on 1 February, after the end (a Wednesday).
IDS = ["a", "a", "a", "b", "c", "c"]
DATES = ["2024-01-01", "2024-01-01", "2024-01-10", "2024-01-05", "2024-01-03", "2024-02-01"]
VALUES = [10.0, 5.0, 20.0, 7.0, 3.0, 100.0]
END = "2024-01-31"

CASES = [
    # period, unit, {customer: (x, t_x, T, m_x)}
    ("day", "day", {"a": (1, 9, 30, 20), "b": (0, 0, 26, 0), "c": (0, 0, 28, 0)}),
    ("day", "week", {"a": (1, 9 / 7, 30 / 7, 20), "b": (0, 0, 26 / 7, 0), "c": (0, 0, 4, 0)}),
    # Weeks run Monday to Sunday; the end's week counts whole, so 1 February is kept, as
    # lifetimes (pandas' W period) does.
    ("week", "week", {"a": (1, 1, 4, 20), "b": (0, 0, 4, 0), "c": (1, 4, 4, 100)}),
    ("week", "day", {"a": (1, 7, 28, 20), "b": (0, 0, 28, 0), "c": (1, 28, 28, 100)}),
]


@pytest.mark.parametrize(("period", "unit", "expected"), CASES)
def test_hand_computed_summaries(
    period: Period, unit: Period, expected: dict[str, tuple[float, ...]]
) -> None:
    summary = summarize_transactions(
        IDS, DATES, END, monetary_value=VALUES, period=period, unit=unit
    )
    assert summary.customer_id.to_pylist() == list(expected)
    assert summary.unit == unit
    assert summary.monetary_value is not None
    got = zip(summary.frequency, summary.recency, summary.T, summary.monetary_value, strict=True)
    for (customer, want), row in zip(expected.items(), got, strict=True):
        assert row == pytest.approx(want), customer


def test_unit_defaults_to_the_period_and_values_are_optional() -> None:
    summary = summarize_transactions(IDS, DATES, END, period="week")
    assert summary.unit == "week"
    assert summary.monetary_value is None
    assert summary.to_arrow().column_names == ["customer_id", "frequency", "recency", "T"]
    table = summarize_transactions(IDS, DATES, END, monetary_value=VALUES).to_arrow()
    assert table.column_names == ["customer_id", "frequency", "recency", "T", "monetary_value"]
    assert table.num_rows == 3


def test_times_of_day_are_floored_to_their_day() -> None:
    stamps = np.array(
        ["2024-01-01T00:01", "2024-01-01T23:59", "2024-01-02T00:00"], dtype="datetime64[m]"
    )
    summary = summarize_transactions([1, 1, 1], stamps, "2024-01-03T18:00")
    assert (summary.frequency[0], summary.recency[0], summary.T[0]) == (1, 1, 2)


def test_time_zone_aware_timestamps_count_in_utc() -> None:
    # 23:30 in New York on 1 January is 04:30 UTC on 2 January.
    local = pa.array(
        [dt.datetime(2024, 1, 2, 4, 30)], type=pa.timestamp("s", tz="America/New_York")
    )
    summary = summarize_transactions(["a"], local, "2024-01-12")
    assert summary.T[0] == 10


DATE_KINDS = {
    "iso text": DATES,
    "numpy days": np.array(DATES, dtype="datetime64[D]"),
    "numpy nanoseconds": np.array(DATES, dtype="datetime64[ns]"),
    "python dates": [dt.date.fromisoformat(d) for d in DATES],
    "python datetimes": [dt.datetime.fromisoformat(d) for d in DATES],
    "arrow date32": pa.array([dt.date.fromisoformat(d) for d in DATES]),
    "arrow chunked": pa.chunked_array([DATES[:2], DATES[2:]]).cast(pa.timestamp("ms")),
    "pandas": pd.Series(pd.to_datetime(DATES)),
}


@pytest.mark.parametrize("dates", DATE_KINDS.values(), ids=DATE_KINDS.keys())
def test_accepts_the_usual_date_kinds(dates: object) -> None:
    summary = summarize_transactions(IDS, dates, dt.date(2024, 1, 31))
    np.testing.assert_array_equal(summary.frequency, [1, 0, 0])
    np.testing.assert_array_equal(summary.T, [30, 26, 28])


ID_KINDS = {
    "integers sort numerically": ([10, 10, 9, 2], [2, 9, 10]),
    "text sorts by code point": (["b", "b", "a", "B"], ["B", "a", "b"]),
    "arrow dictionary": (pa.array(["y", "y", "x", "z"]).dictionary_encode(), ["x", "y", "z"]),
    "pandas categorical": (pd.Series(["y", "y", "x", "z"], dtype="category"), ["x", "y", "z"]),
}


@pytest.mark.parametrize(("ids", "expected"), ID_KINDS.values(), ids=ID_KINDS.keys())
def test_customers_come_out_sorted_by_id(ids: object, expected: list[object]) -> None:
    dates = ["2024-01-01", "2024-01-05", "2024-01-02", "2024-01-03"]
    summary = summarize_transactions(ids, dates, "2024-01-31")
    assert summary.customer_id.to_pylist() == expected


def test_no_transaction_before_the_end_gives_an_empty_summary() -> None:
    summary = summarize_transactions(IDS, DATES, "2023-12-31", monetary_value=VALUES)
    assert len(summary) == 0
    assert summary.to_arrow().num_rows == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"customer_id": ["a"]}, ValueError, "customer_id has 1 rows"),
        ({"customer_id": ["a", None, "b", "b", "c", "c"]}, ValueError, "customer_id has 1 miss"),
        ({"date": [*DATES[:-1], None]}, ValueError, "date has 1 missing"),
        ({"date": np.array([*DATES[:-1], "NaT"], dtype="datetime64[D]")}, ValueError, "date has"),
        ({"date": [20240101] * 6}, TypeError, "dates or date-times"),
        ({"monetary_value": [1.0] * 5}, ValueError, "monetary_value has 5 rows"),
        ({"monetary_value": [float("nan")] * 6}, ValueError, "finite"),
        ({"period": "month"}, ValueError, "'day' or 'week'"),
        ({"unit": "hour"}, ValueError, "'day' or 'week'"),
    ],
)
def test_rejects_bad_input(kwargs: dict[str, object], error: type, message: str) -> None:
    arguments: dict[str, object] = {
        "customer_id": IDS,
        "date": DATES,
        "observation_end": END,
        "monetary_value": VALUES,
    }
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        summarize_transactions(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("period", "unit", "freq", "multiplier"),
    [("day", "day", "D", 1), ("day", "week", "D", 7), ("week", "week", "W", 1)],
)
def test_matches_lifetimes_on_random_transactions(
    period: Period, unit: Period, freq: str, multiplier: int
) -> None:
    # An extra check where lifetimes still imports; the hand-computed cases above stand alone.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifetimes.utils import (  # type: ignore[import-untyped]
                summary_data_from_transaction_data,
            )
    except Exception as err:  # any failure to import means: nothing to compare with
        pytest.skip(f"lifetimes does not import here: {err!r}")
    rng = np.random.default_rng(5)
    n = 5_000
    ids = rng.integers(0, 800, n)
    stamps = np.datetime64("2019-12-25T00:00", "s") + rng.integers(0, 400 * 86_400, n)
    values = np.round(rng.gamma(2, 20, n), 2)
    frame = pd.DataFrame({"id": ids, "date": stamps, "value": values})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = summary_data_from_transaction_data(
            frame, "id", "date", "value", observation_period_end="2020-10-14", freq=freq,
            freq_multiplier=multiplier,
        )  # fmt: skip
    got = summarize_transactions(
        ids, stamps, "2020-10-14", monetary_value=values, period=period, unit=unit
    )
    np.testing.assert_array_equal(got.customer_id.to_numpy(), expected.index.to_numpy())
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(getattr(got, column), expected[column].to_numpy())
    assert got.monetary_value is not None
    np.testing.assert_allclose(got.monetary_value, expected["monetary_value"], rtol=1e-12)
