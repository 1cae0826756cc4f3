"""GroupCommit: every item written once, in order, many per write when they come together."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifetide.journeys.recording import GroupCommit


@pytest.fixture
def thread() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(1)
    yield executor
    executor.shutdown(wait=True)


class Log:
    """A write that takes a while, on one thread, and remembers what each call wrote."""

    def __init__(self, seconds: float = 0.0, fail_on: int | None = None) -> None:
        self.seconds = seconds
        self.fail_on = fail_on
        self.writes: list[list[int]] = []
        self.threads: set[int] = set()

    def __call__(self, items: list[int]) -> None:
        self.threads.add(threading.get_ident())
        time.sleep(self.seconds)
        if self.fail_on is not None and self.fail_on in items:
            raise ConnectionError(f"could not write {self.fail_on}")
        self.writes.append(items)


def test_items_that_arrive_during_a_write_share_the_next(thread: ThreadPoolExecutor) -> None:
    log = Log(seconds=0.05)
    commits: GroupCommit[int] = GroupCommit(log, thread)

    async def go() -> None:
        first = asyncio.ensure_future(commits.add(0))
        await asyncio.sleep(0.01)  # the first write is under way
        await asyncio.gather(first, *(commits.add(i) for i in range(1, 20)))

    asyncio.run(go())
    # The first write holds the first item; everything queued behind it goes in the second.
    assert log.writes == [[0], list(range(1, 20))]
    assert commits.writes == 2
    assert len(log.threads) == 1


def test_an_add_returns_only_once_its_item_is_written(thread: ThreadPoolExecutor) -> None:
    log = Log(seconds=0.01)
    commits: GroupCommit[int] = GroupCommit(log, thread)
    seen: list[bool] = []

    async def one(item: int) -> None:
        await commits.add(item)
        seen.append(any(item in write for write in log.writes))

    async def go() -> None:
        await asyncio.gather(*(one(i) for i in range(10)))

    asyncio.run(go())
    assert seen == [True] * 10


def test_a_failed_write_fails_its_items_only(thread: ThreadPoolExecutor) -> None:
    log = Log(seconds=0.02, fail_on=3)
    commits: GroupCommit[int] = GroupCommit(log, thread)

    async def go() -> list[BaseException | None]:
        first = asyncio.ensure_future(commits.add(0))
        await asyncio.sleep(0.005)  # the first write is under way: 1-4 go in the next
        rest = [commits.add(i) for i in range(1, 5)]
        results = await asyncio.gather(first, *rest, return_exceptions=True)
        later = await asyncio.gather(commits.add(9), return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in [*results, *later]]

    outcomes = asyncio.run(go())
    assert outcomes[0] is None
    assert all(isinstance(o, ConnectionError) for o in outcomes[1:5])
    assert outcomes[5] is None  # the next write goes on
    assert log.writes == [[0], [9]]


def test_calls_run_on_the_writing_thread(thread: ThreadPoolExecutor) -> None:
    log = Log()
    commits: GroupCommit[int] = GroupCommit(log, thread)

    async def go() -> int:
        await commits.add(1)
        return await commits.call(threading.get_ident)

    assert {asyncio.run(go())} == log.threads


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=0.003), min_size=1, max_size=30))
def test_every_item_is_written_exactly_once_in_arrival_order(delays: list[float]) -> None:
    log = Log(seconds=0.001)
    with ThreadPoolExecutor(1) as executor:
        commits: GroupCommit[int] = GroupCommit(log, executor)

        async def one(item: int, delay: float) -> None:
            await asyncio.sleep(delay)
            await commits.add(item)

        async def go() -> list[int]:
            arrived: list[int] = []
            real_add = commits.add

            async def add(item: int) -> None:
                arrived.append(item)
                await real_add(item)

            commits.add = add  # type: ignore[method-assign]
            await asyncio.gather(*(one(i, d) for i, d in enumerate(delays)))
            return arrived

        arrived = asyncio.run(go())
    written = [item for write in log.writes for item in write]
    assert written == arrived
    assert sorted(written) == list(range(len(delays)))
    assert commits.writes == len(log.writes) <= len(delays)
