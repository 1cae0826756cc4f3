"""Journey e-mails built (rendered, composed, flattened) in a process of their own.

Building an e-mail costs about twice what sending it over a kept-open SMTP connection does,
and both are CPU-bound Python, so one process cannot do both at 300 a second. The dispatcher
hands `EmailJob`s to an `EmailBuilder`, which builds them slice by slice in a worker process
(`processes=1`, the default) while the dispatcher sends the slice before (and prepares its
next round, whose jobs queue behind these); with `processes=0`
it builds them in the calling process (tests, a one-core machine). A worker that dies is
replaced and its slice built in the calling process: building is pure, so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from lifetide.channels.messages import OutgoingEmail
from lifetide.messaging.compose import build_outgoing
from lifetide.messaging.links import Links
from lifetide.messaging.templates import TemplateProblem, TemplateSpec
from lifetide.messaging.tokens import LinkSigner
from lifetide.runtime import tune_garbage_collection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmailJob:
    """What one e-mail is built from (picklable: it may cross to the worker process)."""

    key: str
    to: str
    template: TemplateSpec
    context: dict[str, Any]
    profile_id: int
    journey_id: int | None
    step: str


@dataclass(frozen=True)
class Built:
    """One job's e-mail, or why it could not be built."""

    key: str
    email: OutgoingEmail | None
    problem: str | None = None


@dataclass(frozen=True)
class LinkConfig:
    """What signs the links: the public base URL and the secret key."""

    base_url: str
    secret: str

    def links(self) -> Links:
        """The Links these settings make."""
        return Links(self.base_url, LinkSigner(self.secret))


_links_cache: dict[LinkConfig, Links] = {}


def build_all(
    jobs: Sequence[EmailJob], sender: str, date: dt.datetime, config: LinkConfig
) -> list[Built]:
    """Build each job; a job that fails is a `Built` with its problem, the others go on."""
    links = _links_cache.get(config)
    if links is None:
        links = _links_cache[config] = config.links()
    built: list[Built] = []
    for job in jobs:
        try:
            message = build_outgoing(
                job.template,
                job.context,
                key=job.key,
                to=job.to,
                sender=sender,
                links=links,
                profile_id=job.profile_id,
                journey_id=job.journey_id,
                step=job.step,
                date=date,
            )
            built.append(Built(job.key, message))
        except TemplateProblem as problem:
            built.append(Built(job.key, None, f"template {job.template.name!r}: {problem}"))
        except Exception as err:  # one odd row (an address, a value) must not stop the rest
            log.exception("send %s: the e-mail could not be built", job.key)
            built.append(Built(job.key, None, f"the e-mail could not be built: {err}"))
    return built


def _start_worker(parent: int) -> None:
    """The worker process's set-up: follow the parent, and tune the collector for building."""
    _follow_parent(parent)
    tune_garbage_collection()


def _follow_parent(parent: int) -> None:
    """In the worker: exit when the dispatcher's process is gone (killed with SIGKILL, say).

    Nothing tells a pool's worker that its parent died: without this it would live on.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


class EmailBuilder:
    """Builds e-mails in order, slice by slice, in a worker process (see the module)."""

    def __init__(self, sender: str, config: LinkConfig, *, processes: int = 1) -> None:
        if processes not in (0, 1):
            raise ValueError(f"an EmailBuilder uses 0 or 1 worker processes, not {processes}")
        self._sender = sender
        self._config = config
        self._processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._started: Future[list[Built]] | None = None

    def close(self) -> None:
        """Stop the worker process, if one was started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def in_process(self) -> bool:
        """Whether e-mails are built by a worker process (so the caller may work meanwhile)."""
        return self._processes == 1

    def start(self) -> None:
        """Start the worker process now, so that it is ready by the first e-mail."""
        pool = self._worker()
        if pool is not None:
            # Spawning is lazy: a first task makes the process start, and an empty slice
            # makes it import and set up what building needs (seconds of CPU: a spawned
            # process imports the parent's main module too).
            epoch = dt.datetime.fromtimestamp(0, dt.UTC)
            self._started = pool.submit(build_all, [], self._sender, epoch, self._config)

    def ready(self, timeout: float | None = None) -> bool:
        """Wait until the worker process can build (True), or `timeout` seconds (False)."""
        if self._started is None:
            return True
        try:
            self._started.result(timeout)
        except TimeoutError:
            return False
        except BrokenProcessPool:
            pass  # the next build replaces the process (see _results)
        return True

    def build(
        self, jobs: Sequence[EmailJob], date: dt.datetime, size: int
    ) -> Iterator[list[Built]]:
        """The jobs built in order, `size` at a time; the next slices build meanwhile.

        With a worker process every slice is queued at once, so the jobs of a later call
        are built behind these while the caller still sends them. The first slice is a
        quarter of `size`, so the caller has something to send soon.
        """
        first = max(1, size // 4)
        slices = [list(jobs[:first])] if jobs else []
        slices += [list(jobs[at : at + size]) for at in range(first, len(jobs), size)]
        pool = self._worker()
        if pool is None:
            return (build_all(part, self._sender, date, self._config) for part in slices)
        futures: list[Future[list[Built]]] = [
            pool.submit(build_all, part, self._sender, date, self._config) for part in slices
        ]
        return self._results(pool, slices, futures, date)

    def _results(
        self,
        pool: ProcessPoolExecutor,
        slices: list[list[EmailJob]],
        futures: list[Future[list[Built]]],
        date: dt.datetime,
    ) -> Iterator[list[Built]]:
        try:
            for part, future in zip(slices, futures, strict=True):
                try:
                    yield future.result()
                except BrokenProcessPool:
                    # The pool may have been replaced already (by a later call's slices).
                    if self._pool is pool:
                        log.warning("the e-mail builder process died; building here instead")
                        pool.shutdown(wait=False, cancel_futures=True)
                        self._pool = None
                    yield build_all(part, self._sender, date, self._config)
        finally:
            for future in futures:
                future.cancel()

    def _worker(self) -> ProcessPoolExecutor | None:
        if self._processes == 0:
            return None
        if self._pool is None:
            # spawn, not fork: the dispatcher's process has threads and open connections.
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self._pool
