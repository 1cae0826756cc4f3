"""BehindRecorder: writes run on their own thread, in order, never more than one behind."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from lifetide.journeys.recording import BehindRecorder
from lifetide.ops.database import create_ops_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def scratch(request: pytest.FixtureRequest) -> Engine:
    """An engine with an empty table `written (n)`, on SQLite and on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    engine: Engine = request.getfixturevalue(name)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE written (n INTEGER NOT NULL)"))
    return engine


def _insert(n: int) -> Callable[[Connection], None]:
    def work(connection: Connection) -> None:
        with connection.begin():
            connection.execute(text("INSERT INTO written (n) VALUES (:n)"), {"n": n})

    return work


def _written(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT n FROM written ORDER BY n")))


def test_every_write_is_committed_in_order_by_the_time_the_block_ends(scratch: Engine) -> None:
    threads: list[str] = []

    def noted(n: int) -> Callable[[Connection], None]:
        def work(connection: Connection) -> None:
            threads.append(threading.current_thread().name)
            _insert(n)(connection)

        return work

    with BehindRecorder(scratch) as recorder:
        for n in range(10):
            recorder.write(noted(n))
    assert _written(scratch) == list(range(10))
    assert threading.current_thread().name not in threads
    assert len(set(threads)) == 1 and threads[0].startswith("dispatch-record")


def test_the_caller_goes_on_while_a_write_runs_but_never_two_writes_ahead(
    scratch: Engine,
) -> None:
    release = threading.Event()
    started = threading.Event()

    def slow(connection: Connection) -> None:
        started.set()
        assert release.wait(10), "the caller was blocked by the write it handed over"
        _insert(1)(connection)

    with BehindRecorder(scratch) as recorder:
        recorder.write(slow)
        assert started.wait(10)
        # The write is under way and the caller is free: what the next chunk's sending is.
        assert _written(scratch) == []
        second = threading.Thread(target=recorder.write, args=(_insert(2),))
        second.start()
        second.join(0.3)
        assert second.is_alive(), "a second write started before the first was committed"
        release.set()
        second.join(10)
        assert not second.is_alive()
    assert _written(scratch) == [1, 2]


def test_a_failed_write_raises_at_the_next_write_and_nothing_after_it_runs(
    scratch: Engine,
) -> None:
    def broken(connection: Connection) -> None:
        with connection.begin():
            connection.execute(text("INSERT INTO nowhere (n) VALUES (1)"))

    with pytest.raises(Exception, match="nowhere"), BehindRecorder(scratch) as recorder:
        recorder.write(_insert(1))
        recorder.write(broken)
        recorder.write(_insert(3))  # raises: the broken write is waited for first
        recorder.write(_insert(4))
    assert _written(scratch) == [1]


def test_a_last_write_that_fails_raises_when_the_block_ends(scratch: Engine) -> None:
    def broken(connection: Connection) -> None:
        raise ValueError("the disk is full")

    full = pytest.raises(ValueError, match="the disk is full")
    with full, BehindRecorder(scratch) as recorder:
        recorder.write(_insert(1))
        recorder.write(broken)
    assert _written(scratch) == [1]


def test_an_error_of_the_caller_is_not_hidden_by_a_failed_write(scratch: Engine) -> None:
    def broken(connection: Connection) -> None:
        raise ValueError("the write's own problem")

    with pytest.raises(KeyError, match="the caller's"), BehindRecorder(scratch) as recorder:
        recorder.write(broken)
        raise KeyError("the caller's")


def test_a_database_that_cannot_be_opened_raises_and_leaves_no_thread(tmp_path: Path) -> None:
    unreachable = create_ops_engine(f"sqlite:///{tmp_path}")  # a folder, not a database
    before = {t.name for t in threading.enumerate()}
    refused = pytest.raises(Exception, match="unable to open database file")
    with refused, BehindRecorder(unreachable):
        pytest.fail("the block ran without a connection")
    left = {t.name for t in threading.enumerate()} - before
    assert not [name for name in left if name.startswith("dispatch-record")]
