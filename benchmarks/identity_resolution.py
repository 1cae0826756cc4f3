"""Benchmark: identity resolution over N generated customers, timed and scored.

Generates and imports a retailer (not timed here; see generate_import.py), then runs
`lifetide identity resolve` as its own process (wall time and peak RSS from wait4), and
scores the stored profiles against the ground truth: pairwise precision and recall over
customer records (a pair is "the same person").

    .venv/bin/python benchmarks/identity_resolution.py --customers 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb

from measure import run, synth_command


def pair_counts(labels: dict[str, int]) -> Counter[int]:
    return Counter(labels.values())


def score(truth: dict[str, int], predicted: dict[str, int]) -> dict[str, float]:
    """Pairwise precision and recall, counted without listing the pairs."""
    both: Counter[tuple[int, int]] = Counter((truth[r], predicted[r]) for r in truth)

    def pairs(counter: Counter[int] | Counter[tuple[int, int]]) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    hits = pairs(both)
    predicted_pairs = pairs(pair_counts(predicted))
    true_pairs = pairs(pair_counts(truth))
    return {
        "true_pairs": true_pairs,
        "predicted_pairs": predicted_pairs,
        "precision": round(hits / predicted_pairs, 4) if predicted_pairs else 1.0,
        "recall": round(hits / true_pairs, 4) if true_pairs else 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lifetide-identity-bench"))
    parser.add_argument("--reuse", action="store_true", help="keep an existing generated retailer")
    args = parser.parse_args()

    data, source = args.workdir / "data", args.workdir / "synth"
    env = {**os.environ, "LIFETIDE_DATA_DIR": str(data), "COLUMNS": "200"}
    lifetide = str(Path(sys.executable).parent / "lifetide")
    if not (args.reuse and (data / "warehouse.duckdb").exists()):
        shutil.rmtree(args.workdir, ignore_errors=True)
        subprocess.run(
            synth_command(lifetide, args.customers, args.seed, source),
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [lifetide, "import", "all", str(source)], env=env, check=True, capture_output=True
        )
    else:
        (data / "lifetide.db").unlink(missing_ok=True)  # resolve from scratch

    result: dict[str, object] = {"customers": args.customers}
    result["resolve"] = run([lifetide, "identity", "resolve"], env)
    truth = dict(
        duckdb.sql(
            f"SELECT customer_id, person_id FROM '{source / 'truth' / 'records.parquet'}'"
        ).fetchall()
    )
    with sqlite3.connect(data / "lifetide.db") as con:
        predicted = dict(
            con.execute(
                "SELECT value, customer_id FROM identities WHERE kind IN ('user_id', 'crm_id')"
            ).fetchall()
        )
        result["profiles"] = con.execute(
            "SELECT count(*) FROM customers WHERE merged_into_id IS NULL"
        ).fetchone()[0]
        result["reviews"] = con.execute("SELECT count(*) FROM identity_reviews").fetchone()[0]
    result["records"] = len(truth)
    result["persons"] = len(set(truth.values()))
    result.update(score(truth, predicted))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
