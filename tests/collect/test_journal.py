"""The journal: concurrent appends are durable in order; each reader follows its own cursor."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from lifetide.collect.journal import Journal

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def test_concurrent_appends_get_distinct_ordered_sequence_numbers(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    seqs: list[int] = []
    lock = threading.Lock()

    def append(worker: int) -> None:
        for n in range(200):
            seq = journal.append(f"{worker}-{n}".encode(), received_at=NOW, messages=1).result()
            with lock:
                seqs.append(seq)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 1601))
    assert [e.seq for e in journal.follow(0)] == list(range(1, 1601))
    journal.close()


def test_readers_follow_from_their_own_cursor_and_pruning_waits_for_the_slowest(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "journal.db")
    for n in range(10):
        journal.append(
            b"x", received_at=NOW, messages=1, call_type="track" if n % 2 else None
        ).result()
    journal.advance("warehouse", 8)
    journal.advance("triggers", 3)
    assert journal.cursor("warehouse") == 8 and journal.cursor("new-reader") == 0
    assert [e.seq for e in journal.follow(journal.cursor("triggers"))] == list(range(4, 11))
    journal.advance("triggers", 2)  # a cursor never moves back
    assert journal.cursor("triggers") == 3
    assert journal.prune(10) == 3  # only what every reader has passed
    assert [e.seq for e in journal.read(0, 2)] == [4, 5]
    assert journal.read(0, 1)[0].call_type == "track"
    journal.close()


def test_entries_survive_reopening(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    journal.append(b"kept", received_at=NOW, messages=3, encoding="gzip", source_id=7).result()
    journal.close()
    again = Journal(tmp_path / "journal.db")
    entry = again.read(0)[0]
    assert (entry.body, entry.messages, entry.encoding, entry.source_id, entry.received_at) == (
        b"kept",
        3,
        "gzip",
        7,
        NOW,
    )
    again.close()
