"""Our BG/NBD fit against lifetimes' BetaGeoFitter on the same simulated customers.

    .venv/bin/python benchmarks/bgnbd_vs_lifetimes.py [--customers 1000000] [--repeat 3]

Simulates customers from the BG/NBD process itself (numpy; CDNOW's published parameters, in
weeks, first purchases spread over two years), fits both in this one process, alternating, and
prints the median wall time of each, the ratio, and both sets of parameters. Two kinds of data:

- "whole days": t_x and T in whole days (as weeks), what transaction dates give (see
  lifetide.models.summarize_transactions); identical histories repeat and can be folded;
- "continuous": exact times, no two customers alike: folding gains nothing.

On "whole days" lifetimes is also given the rows pre-folded into weights (its `weights`
argument), to show how much of the difference folding alone explains.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from lifetide.models import BGNBD
from lifetide.models.fitting import fold

TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # Fader, Hardie & Lee (2005)
NAMES = tuple(TRUE)


def simulate(n: int, seed: int, whole_days: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in weeks, drawn from BG/NBD; T from 1 day to 2 years."""
    rng = np.random.default_rng(seed)
    days = rng.integers(1, 731, n) if whole_days else rng.uniform(1, 730, n)
    age = days / 7
    lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], n)
    p = rng.beta(TRUE["a"], TRUE["b"], n)
    arrivals = rng.poisson(lam * age)
    x = np.minimum(arrivals, rng.geometric(p))  # inactive after the geometric(p)-th purchase
    # The x-th of `arrivals` uniform purchase times on (0, age] is age * Beta(x, N - x + 1).
    t_x = np.where(x > 0, age * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    if whole_days:
        # A purchase at time t falls on day floor(t); two on one day (rare at these rates)
        # are kept as two, which changes nothing for timing.
        t_x = np.floor(t_x * 7) / 7
    return x.astype(float), t_x, age


def import_lifetimes() -> Any:
    """lifetimes.BetaGeoFitter; if the 2020 package fails to import, retry after a small shim."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifetimes import BetaGeoFitter  # type: ignore[import-untyped]

        return BetaGeoFitter
    except Exception as first:  # shim only the names newer numpy/scipy removed, then retry
        import builtins
        import types

        import scipy
        import scipy.special

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns on merely asking for np.object
            for name in ("float", "int", "bool", "object", "complex"):
                if not hasattr(np, name):
                    setattr(np, name, getattr(builtins, name))
        # setattr: the names were removed, so type checkers rightly do not know them.
        misc = sys.modules.setdefault("scipy.misc", types.ModuleType("scipy.misc"))
        if not hasattr(misc, "logsumexp"):
            setattr(misc, "logsumexp", scipy.special.logsumexp)  # noqa: B010
        setattr(scipy, "misc", misc)  # noqa: B010
        try:
            from lifetimes import BetaGeoFitter

            return BetaGeoFitter
        except Exception as second:
            sys.exit(f"lifetimes does not import: {first!r}; after the shim: {second!r}")


def timed(fit: Callable[[], dict[str, float]]) -> tuple[float, dict[str, float]]:
    """Wall time of one fit and its parameters."""
    started = time.perf_counter()
    params = fit()
    return time.perf_counter() - started, params


def ours(x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> dict[str, float]:
    """Our BG/NBD's parameters (it folds identical rows itself)."""
    return BGNBD().fit(x, t_x, age).params_


def theirs(
    fitter: Any, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, w: np.ndarray | None = None
) -> dict[str, float]:
    """lifetimes' BetaGeoFitter parameters, with its default settings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fitter().fit(x, t_x, age, weights=w)
    return {k: float(model.params_[k]) for k in NAMES}


def line(label: str, seconds: list[float], params: dict[str, float]) -> str:
    """One result line: median and min wall time, parameters to 4 significant digits."""
    shown = "  ".join(f"{k}={params[k]:.4g}" for k in NAMES)
    median = statistics.median(seconds)
    return f"  {label:<26} {median:7.3f} s (min {min(seconds):.3f})   {shown}"


def same_to_3_digits(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether every parameter prints the same to 3 significant digits."""
    return all(f"{a[k]:.3g}" == f"{b[k]:.3g}" for k in NAMES)


def main() -> None:
    """Run both scenarios and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    fitter = import_lifetimes()
    import lifetimes
    import scipy

    print(
        f"BG/NBD on {args.customers:,} simulated customers, true "
        + ", ".join(f"{k}={v}" for k, v in TRUE.items())
        + f" (weeks); lifetimes {lifetimes.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    for whole_days in (True, False):
        x, t_x, age = simulate(args.customers, args.seed, whole_days)
        (fx, ft, fa), w = fold([x, t_x, age], np.ones(len(x)))
        kind = "whole days" if whole_days else "continuous"
        print(f"\n{kind}: {len(x):,} customers, {len(w):,} distinct (x, t_x, T)")
        runs: dict[str, tuple[list[float], dict[str, float]]] = {}
        jobs: dict[str, Callable[[], dict[str, float]]] = {
            "lifetide BGNBD": functools.partial(ours, x, t_x, age),
            "lifetimes BetaGeoFitter": functools.partial(theirs, fitter, x, t_x, age),
        }
        if whole_days:
            jobs["lifetimes, pre-folded rows"] = functools.partial(theirs, fitter, fx, ft, fa, w)
        for _ in range(args.repeat):  # alternate, so load on the machine hits both alike
            for label, job in jobs.items():
                elapsed, params = timed(job)
                runs.setdefault(label, ([], params))[0].append(elapsed)
        for label, (seconds, params) in runs.items():
            print(line(label, seconds, params))
        ours_s, ours_p = runs["lifetide BGNBD"]
        for label, (seconds, params) in list(runs.items())[1:]:
            worst = max(abs(ours_p[k] / params[k] - 1) for k in NAMES)
            print(
                f"  vs {label}: {statistics.median(seconds) / statistics.median(ours_s):.1f}x "
                f"faster; same to 3 significant digits: "
                f"{'yes' if same_to_3_digits(ours_p, params) else 'NO'} "
                f"(largest relative difference {worst:.1e})"
            )


if __name__ == "__main__":
    main()
