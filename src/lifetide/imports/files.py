"""Recognising what kind of file an import was given, before anything reads it in bulk."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from lifetide.imports.problems import ImportRejected, Problem

FileFormat = Literal["csv", "parquet"]

_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 64 * 1024


def detect_format(path: Path) -> FileFormat:
    """Parquet or CSV, from the file's content; anything else is rejected with the reason."""
    name = str(path)
    if not path.exists():
        raise ImportRejected([Problem(name, "no such file")])
    if path.is_dir():
        raise ImportRejected([Problem(name, "is a directory, not a file")])
    size = path.stat().st_size
    if size == 0:
        raise ImportRejected([Problem(name, "the file is empty")])
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_GZIP_MAGIC):
        if path.suffix == ".gz" and path.stem.endswith(".csv"):
            return "csv"
        raise ImportRejected(
            [Problem(name, "is gzip-compressed; name it *.csv.gz if it holds a CSV file")]
        )
    if b"\x00" in head:
        raise ImportRejected([Problem(name, "is not a CSV or Parquet file (binary content)")])
    try:
        # A multi-byte character may be cut at the end of the sniffed block.
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:
            raise ImportRejected(
                [Problem(name, f"is not UTF-8 text (bad byte at offset {err.start})")]
            ) from None
    return "csv"


def sha256_of(path: Path) -> str:
    """The file's SHA-256, so an import log can tell when the same file comes again."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
