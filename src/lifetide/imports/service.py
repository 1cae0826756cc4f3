"""Importing one file, or a folder of them: read, check everything, then write all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lifetide.imports.checks import (
    Findings,
    check_duplicate_keys,
    check_references,
    check_rows,
)
from lifetide.imports.files import FileFormat, detect_format, sha256_of
from lifetide.imports.problems import ImportRejected, Problem
from lifetide.imports.staging import cleanup, stage
from lifetide.imports.writer import WriteCounts, write
from lifetide.warehouse.connection import Warehouse
from lifetide.warehouse.schema import IMPORT_ORDER
from lifetide.warehouse.schema import table as table_spec

OnStage = Callable[[str], None]


@dataclass(frozen=True)
class ImportResult:
    """A successful import: the file, its table, and what changed."""

    table: str
    path: Path
    file_format: FileFormat
    sha256: str
    rows: int
    counts: WriteCounts
    problems: list[Problem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the import changed the warehouse at all."""
        return bool(self.counts.inserted or self.counts.updated)


def import_file(
    warehouse: Warehouse,
    table_name: str,
    path: Path,
    *,
    max_problems: int = 100,
    on_stage: OnStage | None = None,
) -> ImportResult:
    """Import `path` into `table_name`, or raise ImportRejected and change nothing."""
    spec = table_spec(table_name)
    fmt = detect_format(path)
    con = warehouse.duckdb
    warehouse.ensure_tables()
    notify = on_stage or (lambda _stage: None)
    name = str(path)
    try:
        notify("reading")
        staged = stage(con, spec, path, fmt)
        notify("checking")
        checks: list[Callable[[int], Findings]] = [
            lambda room: check_rows(con, spec, name, staged.source_types, room),
            lambda room: check_duplicate_keys(con, spec, name, room),
            lambda room: check_references(con, spec, name, room),
        ]
        problems: list[Problem] = []
        total = 0
        for check in checks:
            found = check(max(max_problems - len(problems), 1))
            problems.extend(found.problems[: max(max_problems - len(problems), 0)])
            total += found.total
        if total:
            problems.sort(key=lambda p: (p.row or 0, p.column or ""))
            raise ImportRejected(problems, total)
        notify("writing")
        con.execute("BEGIN TRANSACTION")
        try:
            counts = write(con, spec, staged.rows)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        cleanup(con)
    return ImportResult(
        table=spec.name,
        path=path,
        file_format=fmt,
        sha256=sha256_of(path),
        rows=staged.rows,
        counts=counts,
    )


def files_in(folder: Path) -> list[tuple[str, Path]]:
    """The importable files in `folder` (`<table>.parquet`, `.csv` or `.csv.gz`), in load order."""
    if not folder.is_dir():
        raise ImportRejected([Problem(str(folder), "is not a folder")])
    found: list[tuple[str, Path]] = []
    for name in IMPORT_ORDER:
        candidates = [folder / f"{name}{ext}" for ext in (".parquet", ".csv", ".csv.gz")]
        present = [p for p in candidates if p.is_file()]
        if len(present) > 1:
            listed = ", ".join(p.name for p in present)
            raise ImportRejected(
                [Problem(str(folder), f"has more than one file for {name}: {listed}")]
            )
        found.extend((name, p) for p in present)
    if not found:
        expected = ", ".join(f"{n}.parquet|csv" for n in IMPORT_ORDER)
        raise ImportRejected([Problem(str(folder), f"holds no importable file ({expected})")])
    return found
