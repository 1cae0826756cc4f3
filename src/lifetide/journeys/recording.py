"""Group commit: results written as they come, many per commit when they come faster.

The dispatcher's SMTP connections each wait for their last message's result to be committed
before sending another (so a crash leaves at most one message per connection delivered and
not recorded). Committing each result alone costs a round trip and a commit per message;
waiting for a whole chunk stalls every connection behind the slowest. Here each result is
queued; one write is under way at a time, on one database thread, and takes everything
queued meanwhile: while it commits, the other connections keep sending, and the results
they queue go in the next write.

Other work with the same connection (the hand-over of the next messages) goes to the same
thread with `call`, so the connection is only ever used by that one thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T]):
    """Writes queued items with `write` on `executor`, as many per call as are waiting."""

    def __init__(self, write: Callable[[list[T]], object], executor: Executor) -> None:
        self._write = write
        self._executor = executor
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.writes = 0  # calls of `write`: fewer than items when results came together

    async def add(self, item: T) -> None:
        """Return once a write holding `item` has returned; raise what that write raised."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        self._waiting.append((item, written))
        if self._writer is None:
            self._writer = loop.create_task(self._drain())
        await written

    async def call(self, fn: Callable[..., R], *args: object) -> R:
        """Run `fn(*args)` on the writing thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self.call(self._write, [item for item, _ in batch])
                except Exception as err:
                    for _, written in batch:
                        if not written.done():
                            written.set_exception(err)
                else:
                    for _, written in batch:
                        if not written.done():
                            written.set_result(None)
                self.writes += 1
        finally:
            self._writer = None
