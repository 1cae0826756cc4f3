"""The published CDNOW results, reproduced from the raw transactions.

Fader, Hardie & Lee (2005, Marketing Science) fit BG/NBD and Pareto/NBD to the 2,357
customers of the CDNOW sample over a 39-week calibration period (1997-01-01 to 1997-09-30);
Fader, Hardie & Lee (2005, JMR) fit Gamma-Gamma to the mean repeat spend of its 946 repeat
buyers. Their numbers are checked to the precision printed.

The authors worked from exact times and spend: lifetimes' cdnow_customers_summary.csv rounds
recency and T to 2 decimals (and its monetary twin rounds spend to cents), which moves the
very flat Pareto/NBD beta (standard error ~6) to 11.668 and Gamma-Gamma's gamma to 15.448.
So the fits use the summary rebuilt from CDNOW_sample.txt, which equals the CSV once rounded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from lifetide.models import BGNBD, GammaGamma, ParetoNBD, summarize_transactions
from lifetide.models.summary import CustomerSummary

CALIBRATION_END = "1997-09-30"  # T = 38.86 weeks for a first purchase on 1997-01-01


@pytest.fixture(scope="module")
def calibration(cdnow_transactions: tuple[np.ndarray, pa.Array, np.ndarray]) -> CustomerSummary:
    ids, dates, dollars = cdnow_transactions
    return summarize_transactions(
        ids, dates, CALIBRATION_END, monetary_value=dollars, period="day", unit="week"
    )


def test_summary_rebuilds_the_published_csv(
    calibration: CustomerSummary, cdnow_csv: np.ndarray
) -> None:
    assert len(calibration) == 2357
    np.testing.assert_array_equal(calibration.customer_id.to_numpy(), cdnow_csv[:, 0])
    np.testing.assert_array_equal(calibration.frequency, cdnow_csv[:, 1])
    np.testing.assert_array_equal(np.round(calibration.recency, 2), cdnow_csv[:, 2])
    np.testing.assert_array_equal(np.round(calibration.T, 2), cdnow_csv[:, 3])
    assert int((calibration.frequency > 0).sum()) == 946


def test_monetary_value_matches_lifetimes_file_to_the_cent(
    calibration: CustomerSummary, cdnow: Path
) -> None:
    path = cdnow / "cdnow_customers_summary_with_transactions.csv"
    published = np.loadtxt(path, delimiter=",", skiprows=1)  # ID, x, t_x, T, zbar
    assert calibration.monetary_value is not None
    # The file rounds half-cents either way; never by more than half a cent.
    assert np.abs(calibration.monetary_value - published[:, 4]).max() <= 0.005 + 1e-9


# (model, published parameters to their printed decimals, log-likelihood to 0.1)
PUBLISHED = [
    (BGNBD, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
    (ParetoNBD, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9595.0),
]


@pytest.mark.parametrize(("model", "params", "log_likelihood"), PUBLISHED)
def test_repeat_purchase_models_reproduce_fader_hardie_lee_2005(
    calibration: CustomerSummary,
    model: type[BGNBD | ParetoNBD],
    params: dict[str, float],
    log_likelihood: float,
) -> None:
    fitted = model().fit(calibration.frequency, calibration.recency, calibration.T)
    assert fitted.converged_
    assert {k: round(v, 3) for k, v in fitted.params_.items()} == params
    assert round(fitted.log_likelihood_, 1) == log_likelihood
    assert fitted.n_customers_ == 2357


def test_gamma_gamma_reproduces_fader_hardie_lee_2005(calibration: CustomerSummary) -> None:
    repeat = calibration.frequency > 0
    assert calibration.monetary_value is not None
    fitted = GammaGamma().fit(calibration.frequency[repeat], calibration.monetary_value[repeat])
    assert fitted.converged_
    assert fitted.n_customers_ == 946
    assert {k: round(v, 2) for k, v in fitted.params_.items()} == {
        "p": 6.25,
        "q": 3.74,
        "gamma": 15.44,
    }


@pytest.mark.parametrize("model", [BGNBD, ParetoNBD])
def test_the_rounded_csv_moves_estimates_by_far_less_than_their_errors(
    calibration: CustomerSummary, cdnow_csv: np.ndarray, model: type[BGNBD | ParetoNBD]
) -> None:
    exact = model().fit(calibration.frequency, calibration.recency, calibration.T)
    rounded = model().fit(cdnow_csv[:, 1], cdnow_csv[:, 2], cdnow_csv[:, 3])
    for name, value in exact.params_.items():
        assert abs(rounded.params_[name] - value) < 0.01 * exact.standard_errors_[name], name
