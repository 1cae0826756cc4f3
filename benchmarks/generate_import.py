"""Benchmark: generate N customers with `lifetide synth`, import them with `lifetide import all`.

Each step runs as its own process, timed, with its peak RSS read from os.wait4. For scale, the
same Parquet files are also copied into a fresh DuckDB file with plain `CREATE TABLE AS SELECT`
(no checks), so the cost of validation shows as a ratio measured in the same run.

    .venv/bin/python benchmarks/generate_import.py --customers 1000000 --workdir /tmp/lt-bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
from pathlib import Path

from measure import run, synth_command

TABLES = ("products", "customers", "orders", "order_items", "events")


def plain_copy(source: Path, target: Path) -> str:
    """Python code that copies the Parquet files into DuckDB without any checks."""
    statements = "; ".join(
        f"CREATE TABLE {t} AS SELECT * FROM read_parquet('{source / (t + '.parquet')}')"
        for t in TABLES
    )
    # The same memory limit as Lifetide's default, so the ratio compares like with like.
    return (
        f"import duckdb; con = duckdb.connect('{target}'); "
        f'con.execute("SET memory_limit = \'4GB\'"); con.execute("{statements}")'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lifetide-bench"))
    args = parser.parse_args()

    shutil.rmtree(args.workdir, ignore_errors=True)
    data_dir, source = args.workdir / "data", args.workdir / "synth"
    env = {**os.environ, "LIFETIDE_DATA_DIR": str(data_dir), "COLUMNS": "120"}
    bin_dir = Path(sys.executable).parent
    lifetide = str(bin_dir / "lifetide")

    results: dict[str, object] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "customers": args.customers,
    }
    results["synth"] = run(
        synth_command(lifetide, args.customers, args.seed, source),
        env,
    )
    results["import"] = run([lifetide, "import", "all", str(source)], env)
    results["plain_duckdb_copy"] = run(
        [sys.executable, "-c", plain_copy(source, args.workdir / "plain.duckdb")], env
    )
    import duckdb  # the benchmark's own reading of what was loaded

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    results["rows"] = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    con.close()
    synth_s = results["synth"]["seconds"]  # type: ignore[index]
    import_s = results["import"]["seconds"]  # type: ignore[index]
    results["total_seconds"] = round(synth_s + import_s, 1)
    results["import_vs_plain_copy"] = round(import_s / results["plain_duckdb_copy"]["seconds"], 2)  # type: ignore[index]
    results["parquet_mib"] = round(sum(f.stat().st_size for f in source.glob("*.parquet")) / 2**20)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
