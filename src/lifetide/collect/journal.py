"""The durable journal of accepted tracking requests: a reply of 200 means it is on disk.

Each request's body is appended as one row (not one row per event: the durable write is what
limits ingest, and one row per batch writes ~100x fewer index pages). A single writer thread
commits whatever requests are waiting in one transaction (group commit) with
synchronous=FULL, then releases them. Readers (the warehouse loader, real-time triggers)
follow the journal by sequence number, each from its own cursor.
"""

from __future__ import annotations

import datetime as dt
import queue
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    source_id INTEGER,
    encoding TEXT NOT NULL,
    call_type TEXT,
    body BLOB NOT NULL,
    messages INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
"""
_MAX_GROUP = 512
_CHECKPOINT_SECONDS = 1.0


@dataclass(frozen=True)
class Entry:
    """One journaled request: its sequence number, when it came, and its body as sent.

    `call_type` is None for `/v1/batch`, else the single-message endpoint's type.
    """

    seq: int
    received_at: dt.datetime
    source_id: int | None
    encoding: str
    call_type: str | None
    body: bytes
    messages: int


@dataclass(frozen=True)
class _Append:
    received_at: dt.datetime
    source_id: int | None
    encoding: str
    call_type: str | None
    body: bytes
    messages: int
    done: Future[int]


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit survives power loss, which is what a 200 promises.
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA busy_timeout=10000")
    con.executescript(_SCHEMA)
    return con


class Journal:
    """Append-only durable log of tracking requests, with named read cursors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer_con = _connect(path)
        # Checkpoints copy the WAL into the database and fsync: done inside a commit they stall
        # every writer waiting on it, so a background thread does them instead.
        self._writer_con.execute("PRAGMA wal_autocheckpoint=0")
        self._reader_con = _connect(path)
        self._reader_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Append | None] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
        self._thread.start()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="journal-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def append(
        self,
        body: bytes,
        *,
        received_at: dt.datetime,
        messages: int,
        encoding: str = "identity",
        source_id: int | None = None,
        call_type: str | None = None,
    ) -> Future[int]:
        """Queue a request body; the future gives its sequence number once it is durable."""
        done: Future[int] = Future()
        self._queue.put(_Append(received_at, source_id, encoding, call_type, body, messages, done))
        return done

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < _MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._commit(group)
                    return
                group.append(item)
            self._commit(group)

    def _checkpoint_loop(self) -> None:
        con = _connect(self.path)
        try:
            while not self._closing.wait(_CHECKPOINT_SECONDS):
                # PASSIVE never blocks writers; it copies what no reader still needs.
                con.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            con.close()

    def _commit(self, group: list[_Append]) -> None:
        con = self._writer_con
        try:
            con.execute("BEGIN IMMEDIATE")
            seqs = []
            for a in group:
                cursor = con.execute(
                    "INSERT INTO journal "
                    "(received_at, source_id, encoding, call_type, body, messages) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        a.received_at.isoformat(),
                        a.source_id,
                        a.encoding,
                        a.call_type,
                        a.body,
                        a.messages,
                    ),
                )
                seqs.append(int(cursor.lastrowid or 0))
            con.execute("COMMIT")
        except BaseException as err:
            if con.in_transaction:
                con.execute("ROLLBACK")
            for a in group:
                a.done.set_exception(err)
            return
        for a, seq in zip(group, seqs, strict=True):
            a.done.set_result(seq)

    def read(self, after: int, limit: int = 1000) -> list[Entry]:
        """Up to `limit` entries with sequence numbers above `after`, oldest first."""
        with self._reader_lock:
            rows = self._reader_con.execute(
                "SELECT seq, received_at, source_id, encoding, call_type, body, messages "
                "FROM journal "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [
            Entry(r[0], dt.datetime.fromisoformat(r[1]), r[2], r[3], r[4], bytes(r[5]), r[6])
            for r in rows
        ]

    def follow(self, after: int, batch: int = 1000) -> Iterator[Entry]:
        """Every entry after `after` that is in the journal now, in order."""
        while entries := self.read(after, batch):
            yield from entries
            after = entries[-1].seq

    def cursor(self, name: str) -> int:
        """Where the reader `name` has got to (0 before it has read anything)."""
        with self._reader_lock:
            row = self._reader_con.execute(
                "SELECT seq FROM cursors WHERE name = ?", (name,)
            ).fetchone()
        return int(row[0]) if row else 0

    def advance(self, name: str, seq: int) -> None:
        """Record that reader `name` has durably handled everything up to `seq`."""
        with self._reader_lock:
            self._reader_con.execute(
                "INSERT INTO cursors (name, seq) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)",
                (name, seq),
            )

    def last_seq(self) -> int:
        """The newest sequence number in the journal (0 if empty)."""
        with self._reader_lock:
            row = self._reader_con.execute("SELECT max(seq) FROM journal").fetchone()
        return int(row[0] or 0)

    def prune(self, upto: int) -> int:
        """Delete entries up to `upto` that every reader has passed; how many went."""
        with self._reader_lock:
            row = self._reader_con.execute("SELECT min(seq) FROM cursors").fetchone()
            safe = min(upto, int(row[0])) if row and row[0] is not None else 0
            cursor = self._reader_con.execute("DELETE FROM journal WHERE seq <= ?", (safe,))
        return cursor.rowcount

    def close(self) -> None:
        """Finish pending writes and close."""
        self._queue.put(None)
        self._thread.join()
        self._closing.set()
        self._checkpointer.join()
        self._writer_con.close()
        self._reader_con.close()
