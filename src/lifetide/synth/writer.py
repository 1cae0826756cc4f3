"""Streaming several Parquet files at once, encoding on a background thread.

Generation of the next chunk (numpy, mostly releasing the GIL) overlaps with Parquet
encoding and compression of the previous one (Arrow C++, releasing the GIL), which is how
the generator uses both cores of a small machine. The queue is bounded so memory stays flat.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# Columns whose values are (nearly) unique per row: a dictionary would only cost time.
_PLAIN = {"message_id", "properties", "traits", "received_at", "timestamp", "cart_id"}
_QUEUE_CHUNKS = 3


class ParquetSink:
    """One Parquet file per table, fed chunk by chunk; rows are counted as they are written."""

    def __init__(self, files: dict[str, tuple[Path, pa.Schema]], compression: str = "zstd") -> None:
        """Open a writer for each table name at its path with its schema."""
        self.rows: dict[str, int] = dict.fromkeys(files, 0)
        self._writers = {
            name: pq.ParquetWriter(
                path,
                table_schema,
                compression=compression,
                compression_level=1 if compression == "zstd" else None,
                use_dictionary=[f.name for f in table_schema if f.name not in _PLAIN],
                write_statistics=True,
            )
            for name, (path, table_schema) in files.items()
        }
        self._queue: queue.Queue[tuple[str, pa.Table] | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="parquet-sink", daemon=True)
        self._thread.start()

    def put(self, name: str, table: pa.Table) -> None:
        """Queue `table` to be appended to the file of `name` (blocks while the queue is full)."""
        if self._error is not None:
            raise RuntimeError("writing Parquet failed") from self._error
        self._queue.put((name, table))

    def close(self) -> dict[str, int]:
        """Write what is queued, close every file, and return the rows written per table."""
        self._queue.put(None)
        self._thread.join()
        for writer in self._writers.values():
            writer.close()
        if self._error is not None:
            raise RuntimeError("writing Parquet failed") from self._error
        return dict(self.rows)

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # keep draining so producers never block on a dead writer
            name, table = item
            try:
                self._writers[name].write_table(table)
                self.rows[name] += table.num_rows
            except BaseException as err:  # reported to the producer on its next put or close
                self._error = err
