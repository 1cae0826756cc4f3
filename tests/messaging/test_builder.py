"""The e-mail builder: the same bytes in a worker process as here, in order, and no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifetide.messaging.builder import Built, EmailBuilder, EmailJob, LinkConfig, build_all
from lifetide.messaging.template_store import bundled_templates, sample_context
from lifetide.messaging.templates import TemplateSpec
from tests.messaging.conftest import BASE, SECRET, T0

SENDER = "Shop <shop@lifetide.dev>"
CONFIG = LinkConfig(BASE, SECRET)


def _jobs(count: int) -> list[EmailJob]:
    cart = bundled_templates()["cart-reminder"]
    spec = TemplateSpec(cart.name, "email", cart.subject, cart.body, cart.text_body)
    return [
        EmailJob(f"{i}:first_email:1", f"c{i}@example.com", spec, sample_context(T0), i, 3, "e")
        for i in range(count)
    ]


@pytest.fixture
def pooled() -> Iterator[EmailBuilder]:
    builder = EmailBuilder(SENDER, CONFIG, processes=1)
    yield builder
    builder.close()


def _flat(slices: Iterator[list[Built]]) -> list[Built]:
    return [b for part in slices for b in part]


def test_the_worker_process_builds_the_same_bytes_in_the_same_order(
    pooled: EmailBuilder,
) -> None:
    jobs = _jobs(25)
    here = _flat(EmailBuilder(SENDER, CONFIG, processes=0).build(jobs, T0, 4))
    there = _flat(pooled.build(jobs, T0, 4))
    assert [b.key for b in there] == [j.key for j in jobs]
    assert [b.email for b in there] == [b.email for b in here]
    first = there[0].email
    assert first is not None
    assert first.sender == "shop@lifetide.dev"
    assert first.message_id == "<0.first_email.1@lifetide.dev>"
    assert first.data.startswith(b"From: ") and b"\r\n\r\n" in first.data


def test_a_job_that_cannot_be_built_fails_alone(pooled: EmailBuilder) -> None:
    jobs = _jobs(3)
    broken = TemplateSpec("broken", "email", "Hi", "{{ 1 / 0 }}")
    jobs[1] = EmailJob("x:e:1", "x@example.com", broken, {}, 9, 3, "e")
    jobs.append(EmailJob("y:e:1", "not an address", jobs[0].template, {}, 9, 3, "e"))
    # A stylesheet css_inline refuses (a template stored before saving checked it).
    styled = TemplateSpec("styled", "email", "Hi", '<style>p {color: red}</style><p style="s">')
    jobs.append(EmailJob("z:e:1", "z@example.com", styled, {}, 9, 3, "e"))
    built = _flat(pooled.build(jobs, T0, 2))
    assert [b.email is not None for b in built] == [True, False, True, False, False]
    assert "template 'broken'" in (built[1].problem or "")
    assert "not an e-mail address" in (built[3].problem or "")
    assert "template 'styled': body: its CSS cannot be inlined" in (built[4].problem or "")


def test_a_worker_that_dies_is_replaced_and_nothing_is_lost(pooled: EmailBuilder) -> None:
    jobs = _jobs(12)
    slices = pooled.build(jobs, T0, 3)
    got = next(slices)
    pool = pooled._pool
    assert pool is not None
    for process in list(pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)
    got += [b for part in slices for b in part]
    assert [b.key for b in got] == [j.key for j in jobs]
    assert all(b.email is not None for b in got)
    # The next round starts a new worker.
    assert len(_flat(pooled.build(jobs[:2], T0, 2))) == 2
    assert pooled._pool is not None and pooled._pool is not pool


def test_the_worker_exits_when_the_dispatcher_is_killed() -> None:
    script = textwrap.dedent(
        """
        import os, signal
        from tests.messaging.test_builder import CONFIG, SENDER, T0, _jobs
        from lifetide.messaging.builder import EmailBuilder
        builder = EmailBuilder(SENDER, CONFIG, processes=1)
        list(builder.build(_jobs(2), T0, 1))
        print(*(p.pid for p in builder._pool._processes.values()), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    worker = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.1)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_build_all_is_what_the_builder_runs() -> None:
    jobs = _jobs(2)
    assert build_all(jobs, SENDER, T0, CONFIG) == _flat(
        EmailBuilder(SENDER, CONFIG, processes=0).build(jobs, T0, 5)
    )


def test_a_builder_uses_at_most_one_worker() -> None:
    with pytest.raises(ValueError, match="0 or 1"):
        EmailBuilder(SENDER, CONFIG, processes=2)


def test_a_started_builder_says_when_it_is_ready(pooled: EmailBuilder) -> None:
    assert pooled.ready(0)  # not started: nothing to wait for
    pooled.start()
    assert pooled.ready(60)
    # Started, the worker has what building needs: the first slice is built at once.
    assert [b.key for b in _flat(pooled.build(_jobs(2), T0, 2))] == [
        "0:first_email:1",
        "1:first_email:1",
    ]
    assert EmailBuilder(SENDER, CONFIG, processes=0).ready(0)
