"""Recording delivery results one chunk behind the sending, on a thread of their own.

The dispatcher's delivering thread would otherwise wait for each chunk's commit (a round trip
to the database and its log flush) before the next chunk goes. Here chunk N's results are written while chunk N+1 is sent, and no further: before
chunk N+2 goes, chunk N's write has committed (or raised). So a crash leaves at most two chunks
delivered but not recorded, and a failed write stops the sending after the chunk already under
way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from types import TracebackType

from sqlalchemy import Connection, Engine

from lifetide.ops.database import single_statements

log = logging.getLogger(__name__)


class BehindRecorder:
    """Runs each write on a thread and connection of its own, at most one write behind.

    A context manager: `write` waits for the previous write (raising what it raised) and starts
    the next; leaving waits for the last one, and a write that failed raises there unless
    something else is already being raised.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="dispatch-record")
        self._pending: Future[None] | None = None
        self._connection: Connection | None = None
        self._stack = ExitStack()

    def __enter__(self) -> BehindRecorder:
        # Opened on the thread that uses it: a SQLite connection belongs to its thread.
        try:
            self._thread.submit(self._open).result()
        except BaseException:
            self._thread.shutdown(wait=True)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            pending, self._pending = self._pending, None
            if pending is not None:
                failed = pending.exception()  # waits for it
                if failed is not None and error is None:
                    raise failed
                if failed is not None:
                    log.error("recording a chunk's results failed as well", exc_info=failed)
        finally:
            self._thread.submit(self._stack.close).result()
            self._thread.shutdown(wait=True)

    def write(self, work: Callable[[Connection], None]) -> None:
        """Start `work` on the recorder's connection once the previous write has committed."""
        self.wait()
        self._pending = self._thread.submit(self._run, work)

    def wait(self) -> None:
        """Return once the write under way is done; raise what it raised."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _run(self, work: Callable[[Connection], None]) -> None:
        if self._connection is None:
            raise RuntimeError("the recorder's connection is not open")
        work(self._connection)

    def _open(self) -> None:
        self._connection = self._stack.enter_context(single_statements(self._engine))
