"""The Hillstrom e-mail experiment as uplift data, and the evaluation docs/uplift.md reports.

Kevin Hillstrom's MineThatData challenge (2008): 64,000 customers randomized into three arms.
Here: treatment = "Womens E-Mail" (the arm with the larger effect), control = "No E-Mail";
features = recency, history, mens, womens, newbie and one-hot history_segment, zip_code,
channel. The CSV lives in the shared data folder next to the project, never in it.

Run `.venv/bin/python -m tests.models.hillstrom` from the project root to print the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
from numpy.typing import NDArray

from lifetide.models.qini import qini_coefficient, qini_curve, uplift_at_top
from lifetide.models.uplift import ClassTransformationUplift, TwoModelUplift

# tests/models/hillstrom.py -> parents[2] is the project, parents[3] holds shared/.
HILLSTROM_CSV = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "hillstrom" / "hillstrom.csv"
)
TREATMENT_ARM = "Womens E-Mail"
CONTROL_ARM = "No E-Mail"
NUMERIC = ("recency", "history", "mens", "womens", "newbie")
CATEGORICAL = ("history_segment", "zip_code", "channel")
TEST_SHARE = 0.3
SEED = 2008
TOP = 0.3


@dataclass(frozen=True)
class UpliftData:
    """One arm against control: features, treatment flags and outcomes, one row a customer."""

    features: NDArray[np.float64]
    feature_names: list[str]
    treatment: NDArray[np.int8]
    outcomes: dict[str, NDArray[np.int8]]

    def rows(self, index: NDArray[np.intp]) -> UpliftData:
        """The customers at `index`."""
        return UpliftData(
            self.features[index],
            self.feature_names,
            self.treatment[index],
            {name: values[index] for name, values in self.outcomes.items()},
        )


def load(path: Path = HILLSTROM_CSV) -> UpliftData:
    """The Womens E-Mail and No E-Mail customers, one-hot encoded."""
    table = pv.read_csv(path)
    arm = table.column("treatment")
    table = table.filter(pc.is_in(arm, pa.array([TREATMENT_ARM, CONTROL_ARM])))
    columns: list[NDArray[np.float64]] = []
    names: list[str] = []
    for name in NUMERIC:
        columns.append(table.column(name).to_numpy().astype(np.float64))
        names.append(name)
    for name in CATEGORICAL:
        values = np.asarray(table.column(name).to_pylist(), dtype=object)
        for level in sorted(set(values.tolist())):
            columns.append((values == level).astype(np.float64))
            names.append(f"{name}={level}")
    treatment = (np.asarray(table.column("treatment").to_pylist()) == TREATMENT_ARM).astype(np.int8)
    outcomes = {
        name: table.column(name).to_numpy().astype(np.int8) for name in ("visit", "conversion")
    }
    return UpliftData(np.column_stack(columns), names, treatment, outcomes)


def stratified_split(
    data: UpliftData, test_share: float = TEST_SHARE, seed: int = SEED
) -> tuple[UpliftData, UpliftData]:
    """Train and test parts, each (treatment, visit) cell split in the same proportion."""
    rng = np.random.default_rng(seed)
    stratum = data.treatment * 2 + data.outcomes["visit"]
    test: list[NDArray[np.intp]] = []
    for value in np.unique(stratum):
        rows = rng.permutation(np.flatnonzero(stratum == value))
        test.append(rows[: round(test_share * len(rows))])
    held = np.zeros(len(stratum), dtype=bool)
    held[np.concatenate(test)] = True
    return data.rows(np.flatnonzero(~held)), data.rows(np.flatnonzero(held))


@dataclass(frozen=True)
class Figures:
    """How one ranking does on held-out customers for one outcome."""

    qini: float
    top_share: float  # share of all incremental responses won by targeting the top TOP
    top_decile_uplift: float
    average_uplift: float


def figures(
    y: NDArray[np.int8], treatment: NDArray[np.int8], score: NDArray[np.float64]
) -> Figures:
    """Qini coefficient, top-TOP share, top-decile and average uplift of ranking by score."""
    return Figures(
        qini=qini_coefficient(y, treatment, score),
        top_share=qini_curve(y, treatment, score).share_at(TOP),
        top_decile_uplift=uplift_at_top(y, treatment, score, 0.1),
        average_uplift=uplift_at_top(y, treatment, score, 1.0),
    )


def held_out_scores(
    data: UpliftData, outcome: str, seed: int = SEED
) -> tuple[UpliftData, dict[str, NDArray[np.float64]]]:
    """The test part and each ranking's scores on it: both models fitted on the training part
    for `outcome`, and a seeded random score."""
    train, test = stratified_split(data, seed=seed)
    y = train.outcomes[outcome]
    models = {
        "two models": TwoModelUplift().fit(train.features, y, train.treatment),
        "class transformation": ClassTransformationUplift().fit(train.features, y, train.treatment),
    }
    scores = {name: model.predict_uplift(test.features) for name, model in models.items()}
    scores["random"] = np.random.default_rng(seed).random(len(test.treatment))
    return test, scores


def evaluate(data: UpliftData, outcome: str, seed: int = SEED) -> dict[str, Figures]:
    """Figures of each ranking (both models and random) on the held-out customers."""
    test, scores = held_out_scores(data, outcome, seed)
    y = test.outcomes[outcome]
    return {name: figures(y, test.treatment, score) for name, score in scores.items()}


def main() -> None:
    """Print the figures docs/uplift.md quotes: the tested split, then ten other splits."""
    data = load()
    treated = int(data.treatment.sum())
    control = len(data.treatment) - treated
    print(f"{treated + control} customers: {treated} treated, {control} control")
    columns = ("qini", "top_share", "top_decile_uplift", "average_uplift")
    forms = (".3f", ".1%", ".2%", ".2%")
    header = f"{'ranking':<22}{'Qini':>8}{'top 30% share':>15}{'top 10% uplift':>16}{'average':>9}"
    for outcome in ("visit", "conversion"):
        print(f"\n{outcome}, held-out 30% of the split seeded {SEED}:\n{header}")
        for name, f in evaluate(data, outcome).items():
            print(
                f"{name:<22}{f.qini:>8.3f}{f.top_share:>15.1%}"
                f"{f.top_decile_uplift:>16.2%}{f.average_uplift:>9.2%}"
            )
        runs = [evaluate(data, outcome, seed) for seed in range(1, 11)]
        print(f"{outcome}, splits seeded 1-10, mean [min, max] of: {', '.join(columns)}")
        for name in runs[0]:
            cells = []
            for field, form in zip(columns, forms, strict=True):
                values = [getattr(run[name], field) for run in runs]
                low, high = min(values), max(values)
                cells.append(f"{np.mean(values):{form}} [{low:{form}}, {high:{form}}]")
            print(f"  {name:<22}" + "   ".join(cells))


if __name__ == "__main__":
    main()
