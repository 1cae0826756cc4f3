"""Scoring a retailer end to end, the feature table alone, and BG/NBD against lifetimes.

    .venv/bin/python benchmarks/score_customers.py --data-dir DIR --as-of 2026-11-01

DIR holds an imported and resolved retailer (see benchmarks/generate_import.py and
`lifetide identity resolve`). In one run this measures:

1. `lifetide score --as-of DATE` as its own process: wall time, peak RSS, seconds per stage
   (from the run record), and the held-out figures;
2. one feature table as of DATE (features only, in this process), and its size;
3. on that table's buyers, our BG/NBD fit and lifetimes' BetaGeoFitter on the same
   (x, t_x, T), alternating, median of `--repeat`, with both parameter sets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bgnbd_vs_lifetimes import NAMES, import_lifetimes, same_to_3_digits, theirs
from lifetide.context import Lifetide
from lifetide.models import BGNBD
from lifetide.scoring.features import categories, customer_features
from lifetide.settings import load_settings
from measure import run


def score(lifetide: str, data_dir: Path, as_of: str) -> dict[str, Any]:
    env = {**os.environ, "LIFETIDE_DATA_DIR": str(data_dir)}
    measured = run([lifetide, "score", "--as-of", as_of], env)
    with Lifetide(load_settings(data_dir=data_dir)) as app:
        row = app.warehouse.duckdb.execute(
            "SELECT profiles, buyers, seconds, metrics, notes FROM score_runs "
            "ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
    return {
        **measured,
        "profiles": row[0],
        "buyers": row[1],
        "seconds_in_run": row[2],
        "metrics": json.loads(row[3]),
        "notes": json.loads(row[4]),
    }


def features(data_dir: Path, as_of: dt.date) -> tuple[float, Any]:
    with Lifetide(load_settings(data_dir=data_dir)) as app:
        started = time.perf_counter()
        table = customer_features(app.warehouse, as_of, categories(app.warehouse)).to_pyarrow()
        return time.perf_counter() - started, table


def compare(table: Any, repeat: int) -> dict[str, Any]:
    orders = table.column("orders").to_numpy()
    buyers = orders > 0
    x, t_x, big_t = (table.column(c).to_numpy()[buyers] for c in ("x", "t_x", "T"))
    lifetimes = import_lifetimes()
    ours_s: list[float] = []
    theirs_s: list[float] = []
    ours_p: dict[str, float] = {}
    theirs_p: dict[str, float] = {}
    for _ in range(repeat):
        started = time.perf_counter()
        model = BGNBD().fit(x, t_x, big_t)
        ours_s.append(time.perf_counter() - started)
        ours_p = model.params_
        started = time.perf_counter()
        theirs_p = theirs(lifetimes, x, t_x, big_t)
        theirs_s.append(time.perf_counter() - started)
    ours_median, theirs_median = statistics.median(ours_s), statistics.median(theirs_s)
    return {
        "buyers": int(buyers.sum()),
        "ours_seconds": round(ours_median, 2),
        "lifetimes_seconds": round(theirs_median, 2),
        "speedup": round(theirs_median / ours_median, 1),
        "ours": {k: round(ours_p[k], 4) for k in NAMES},
        "lifetimes": {k: round(theirs_p[k], 4) for k in NAMES},
        "same_to_3_digits": same_to_3_digits(ours_p, theirs_p),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-score", action="store_true")
    args = parser.parse_args()
    lifetide = str(Path(sys.executable).with_name("lifetide"))
    results: dict[str, Any] = {}
    if not args.skip_score:
        results["score"] = score(lifetide, args.data_dir, args.as_of)
        print(json.dumps(results["score"], indent=2, default=str), flush=True)
    seconds, table = features(args.data_dir, dt.date.fromisoformat(args.as_of))
    results["features"] = {
        "seconds": round(seconds, 1),
        "rows": table.num_rows,
        "columns": table.num_columns,
    }
    print(json.dumps(results["features"], indent=2), flush=True)
    results["bgnbd_vs_lifetimes"] = compare(table, args.repeat)
    print(json.dumps(results["bgnbd_vs_lifetimes"], indent=2), flush=True)


if __name__ == "__main__":
    main()
