"""SmtpTransport.send_stream: each connection waits for its last result to be recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from lifetide.channels.event_loop import new_event_loop
from lifetide.channels.messages import DeliveryResult, OutgoingEmail
from lifetide.channels.smtp import SmtpTransport
from tests.channels.conftest import Handler, SmtpServer, make_email

Start = Callable[..., SmtpServer]


def batch(count: int) -> list[OutgoingEmail]:
    return [make_email(f"{i}:send:1", f"c{i}@example.com") for i in range(count)]


class Source:
    """An async source of messages that counts what was taken from it, and can fail."""

    def __init__(self, items: Sequence[OutgoingEmail], fail_after: int | None = None) -> None:
        self.items = list(items)
        self.fail_after = fail_after
        self.taken = 0

    async def __aiter__(self) -> AsyncGenerator[OutgoingEmail, None]:
        for item in self.items:
            if self.fail_after is not None and self.taken == self.fail_after:
                raise RuntimeError("the builder went away")
            await asyncio.sleep(0)
            self.taken += 1
            yield item


def run(coroutine: Callable[[], Awaitable[Any]]) -> Any:
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coroutine())


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


def test_a_connection_takes_no_message_until_its_last_result_is_recorded(
    smtp_server: Start,
) -> None:
    server = smtp_server()
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=3)
    source = Source(batch(20))
    recorded: list[DeliveryResult] = []

    async def go() -> tuple[int, int]:
        gate = asyncio.Event()

        async def record(_index: int, result: DeliveryResult) -> None:
            await gate.wait()
            recorded.append(result)

        try:
            task = asyncio.create_task(transport.send_stream(source.__aiter__(), record))
            await until(lambda: len(server.handler.accepted) >= 3)
            await asyncio.sleep(0.3)  # time enough for more, were any connection free
            held = len(server.handler.accepted)
            taken = source.taken
            gate.set()
            await task
            return held, taken
        finally:
            await transport.close()

    held, taken = run(go)
    # One message delivered and not yet recorded per connection, no more.
    assert held == 3
    # The source is read only a few messages ahead: 3 under way, 6 waiting, 1 in hand.
    assert taken <= 3 + 2 * 3 + 1
    assert sorted(r.key for r in recorded) == sorted(i.key for i in source.items)
    assert {r.outcome for r in recorded} == {"sent"}
    assert server.connections == 3


def test_every_message_is_recorded_once_even_when_retried(smtp_server: Start) -> None:
    server = smtp_server(Handler(defer={"c1@example.com": 1}, reject=None))
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=2, backoff=0.01)
    indices: list[int] = []
    results: dict[str, DeliveryResult] = {}

    async def go() -> None:
        async def record(index: int, result: DeliveryResult) -> None:
            indices.append(index)
            results[result.key] = result

        try:
            await transport.send_stream(Source(batch(6)).__aiter__(), record)
        finally:
            await transport.close()

    run(go)
    assert sorted(indices) == list(range(6))
    assert {r.outcome for r in results.values()} == {"sent"}
    assert server.handler.rcpt_attempts["c1@example.com"] == 2
    assert sorted(server.handler.keys()) == sorted(results)


def test_a_failed_record_stops_the_stream_and_is_raised(smtp_server: Start) -> None:
    server = smtp_server()
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=2)
    recorded: list[str] = []

    async def go() -> None:
        async def record(index: int, result: DeliveryResult) -> None:
            if len(recorded) == 3:
                raise ConnectionError("the database went away")
            recorded.append(result.key)

        try:
            await transport.send_stream(Source(batch(40)).__aiter__(), record)
        finally:
            await transport.close()

    with pytest.raises(ConnectionError, match="database went away"):
        run(go)
    # The failed record's message and the other connection's last one went out unrecorded:
    # nothing more was begun.
    assert len(recorded) == 3
    assert len(server.handler.accepted) <= 3 + 2


def test_a_failed_source_is_raised_once_what_it_gave_is_recorded(smtp_server: Start) -> None:
    server = smtp_server()
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=2)
    recorded: list[str] = []
    source = Source(batch(10), fail_after=5)

    async def go() -> None:
        async def record(_index: int, result: DeliveryResult) -> None:
            await asyncio.sleep(0.01)
            recorded.append(result.key)

        try:
            await transport.send_stream(source.__aiter__(), record, ahead=10)
        finally:
            await transport.close()

    with pytest.raises(RuntimeError, match="builder went away"):
        run(go)
    # What the source gave before it failed and was begun is recorded; nothing is lost.
    assert sorted(recorded) == sorted(server.handler.keys())
    assert len(recorded) <= 5


def test_an_empty_stream_opens_no_connection(smtp_server: Start) -> None:
    server = smtp_server()
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=2)

    async def go() -> None:
        async def record(_index: int, _result: DeliveryResult) -> None:
            raise AssertionError("nothing to record")

        try:
            await transport.send_stream(Source([]).__aiter__(), record)
        finally:
            await transport.close()

    run(go)
    assert server.connections == 0


def test_a_closed_transport_takes_no_stream() -> None:
    transport = SmtpTransport("smtp://127.0.0.1:2525")

    async def go() -> None:
        await transport.close()

        async def record(_index: int, _result: DeliveryResult) -> None:
            return None

        await transport.send_stream(Source(batch(1)).__aiter__(), record)

    with pytest.raises(RuntimeError, match="closed"):
        run(go)
