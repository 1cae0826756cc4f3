"""Journey e-mail over SMTP: a pool of persistent connections (aiosmtplib), shared by batches.

A batch is spread over the pool: each connection takes the next message as soon as it is free,
so a slow answer holds up one connection, not the batch. Connections stay open between
batches; one the server has closed meanwhile is reopened when it is next needed.

`send_stream` takes its messages from an async iterator as they come, and awaits the caller's
`record` for each result before that connection takes another: the caller can record each
result before its connection goes on (so at most one message per connection is delivered and
not yet recorded), while the other connections keep sending. The iterator is read only a few
messages ahead of the connections.

Each message ends in one DeliveryResult (see lifetide.channels.messages):

- 2xx after DATA: "sent", provider_message_id = the Message-ID header.
- 5xx on RCPT or DATA: "bounced", with the server's code and text. 5xx on MAIL FROM (the
  sender refused) or a message that cannot be sent as it is: "failed".
- 4xx anywhere: sent again after an exponential backoff (base `backoff` seconds, doubling);
  still 4xx after `retries` retries: "retry".
- A connection lost or timed out: the connection is reopened and the message sent again (at
  once the first time, then with backoff), counted against the same `retries`.
- The server unreachable, refusing our credentials, or lacking STARTTLS when it is required:
  every message still waiting gets "retry" with the reason; the next batch tries again.

A message with 8bit text parts (compose writes UTF-8 parts as they are where the line limit
allows) goes with BODY=8BITMIME to a server that offers it (RFC 6152); to one that does not, its
8bit parts are re-encoded in base64 first (`seven_bit`), as aiosmtplib's `send_message` does.

A message whose lines already end in CRLF (every one compose makes) is written to the server
as it is, dot-stuffed, through aiosmtplib's public commands and its protocol's `write` and
`read_response`: `sendmail` would pass regular expressions over the whole message three times
to normalise line endings that need nothing. Any other message goes through `sendmail`.

SMTP gives no exactly-once guarantee: a connection lost after the server took the DATA but
before its answer arrived makes the message go twice. The sink on loopback never does that.

Transports bind to the event loop they run on: keep one loop for a transport's life (the pool
is rebuilt, not reused, when a batch arrives on a different loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

import aiosmtplib
from aiosmtplib.email import quote_address

from lifetide.channels.messages import (
    BARE_ADDRESS,
    DeliveryResult,
    Outcome,
    OutgoingEmail,
    Record,
    seven_bit,
)
from lifetide.channels.smtp_url import SmtpServer, parse_smtp_url

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


class _Unreachable(Exception):
    """The server cannot be used for now; every waiting message gets "retry" with this reason."""


class _Transient(Exception):
    """A failed attempt that may pass another time: the message is tried again."""

    def __init__(self, detail: str, code: int | None = None, *, connection: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.connection = connection


@dataclass
class _Job:
    """One message of a batch, where it goes in the results, and how often it was tried."""

    index: int
    item: OutgoingEmail
    attempts: int = 0
    connection_faults: int = 0


@dataclass
class _Batch:
    """The shared state of one stream of messages: work under way, and how it ends."""

    queue: asyncio.Queue[_Job | None]
    record: Record
    workers: int
    remaining: int = 0  # messages taken from the source whose result is not yet final
    exhausted: bool = False  # the source has no more
    unreachable: str | None = None
    error: BaseException | None = None  # what the source or a record raised: stop
    taken: asyncio.Event = field(default_factory=asyncio.Event)  # a worker took a job
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    def stop(self, error: BaseException) -> None:
        """Take no new message; wake the feeder and the workers (each ends its message)."""
        if self.error is None:
            self.error = error
        self.taken.set()
        self.release()

    def release(self) -> None:
        """Wake every worker with the end marker."""
        for _ in range(self.workers):
            self.queue.put_nowait(None)


class _Link:
    """One slot of the pool: an SMTP connection, opened when needed and kept open."""

    def __init__(self) -> None:
        self.client: aiosmtplib.SMTP | None = None

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None


class SmtpTransport:
    """Sends e-mails over a pool of `connections` persistent SMTP connections (see module)."""

    def __init__(
        self,
        url: str,
        connections: int = 4,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        *,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if connections < 1:
            raise ValueError(f"an SMTP transport needs at least 1 connection, not {connections}")
        if retries < 0 or backoff < 0 or timeout <= 0:
            raise ValueError("SMTP retries and backoff must be >= 0 and the timeout > 0")
        self.server: SmtpServer = parse_smtp_url(url)
        self.connections = connections
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._tls_context = tls_context
        self._local_hostname = local_hostname
        self._links = [_Link() for _ in range(connections)]
        self._idle: asyncio.Queue[_Link] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.opened = 0  # connections opened so far: reuse keeps this near `connections`

    def __repr__(self) -> str:
        return f"SmtpTransport({self.server.display!r}, connections={self.connections})"

    async def send(self, batch: Sequence[OutgoingEmail]) -> list[DeliveryResult]:
        """Deliver the batch over the pool; one result per message, in batch order."""
        if self._closed:
            raise RuntimeError("this SMTP transport is closed")
        if not batch:
            return []
        results: list[DeliveryResult | None] = [None] * len(batch)

        async def keep(index: int, result: DeliveryResult) -> None:
            results[index] = result

        await self._stream(_each(batch), keep, min(self.connections, len(batch)), len(batch))
        return [r for r in results if r is not None]

    async def send_stream(
        self, source: AsyncGenerator[OutgoingEmail, None], record: Record, *, ahead: int = 0
    ) -> None:
        """Deliver what `source` yields over the pool, awaiting `record` for each result.

        A connection takes its next message only once `record` returned for its last one.
        `source` is read while fewer than `ahead` messages (default: twice the pool) wait
        for a connection. If `source` or `record` raises, no further message is begun; the
        error is raised once the messages under way have ended, and those still waiting are
        left unsent.
        """
        if self._closed:
            raise RuntimeError("this SMTP transport is closed")
        await self._stream(source, record, self.connections, ahead or 2 * self.connections)

    async def _stream(
        self, source: AsyncGenerator[OutgoingEmail, None], record: Record, workers: int, ahead: int
    ) -> None:
        idle = self._pool()
        state = _Batch(queue=asyncio.Queue(), record=record, workers=workers)
        try:
            await asyncio.gather(
                self._feed(source, state, ahead),
                *(self._work(idle, state) for _ in range(workers)),
            )
        finally:
            for timer in state.timers:
                timer.cancel()
        if state.error is not None:
            raise state.error

    async def _feed(
        self, source: AsyncGenerator[OutgoingEmail, None], state: _Batch, ahead: int
    ) -> None:
        """Queue the source's messages, keeping at most `ahead` waiting for a connection."""
        index = 0
        try:
            async with contextlib.aclosing(source):
                async for item in source:
                    while state.queue.qsize() >= ahead and state.error is None:
                        state.taken.clear()
                        await state.taken.wait()
                    if state.error is not None:
                        break
                    state.remaining += 1
                    state.queue.put_nowait(_Job(index, item))
                    index += 1
        except Exception as err:
            state.stop(err)
        state.exhausted = True
        if state.remaining == 0 and state.error is None:
            state.release()

    async def close(self) -> None:
        """Say QUIT on every open connection; the transport may not be used afterwards."""
        self._closed = True
        for link in self._links:
            client = link.client
            if client is not None and client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit(timeout=min(self.timeout, 5.0))
            link.drop()

    def _pool(self) -> asyncio.Queue[_Link]:
        """The idle connections, for the running event loop."""
        loop = asyncio.get_running_loop()
        if self._idle is None or self._loop is not loop:
            # Connections of another (perhaps closed) loop cannot be used here.
            for link in self._links:
                link.client = None
            self._idle = asyncio.Queue()
            for link in self._links:
                self._idle.put_nowait(link)
            self._loop = loop
        return self._idle

    async def _work(self, idle: asyncio.Queue[_Link], state: _Batch) -> None:
        """Take messages until the stream is done, over one connection of the pool."""
        link = await idle.get()
        try:
            while state.error is None and (job := await state.queue.get()) is not None:
                state.taken.set()
                if state.unreachable is None and not link.connected:
                    try:
                        await self._connect(link)
                    except _Unreachable as err:
                        log.warning("SMTP: %s; the rest of the batch is left to retry", err)
                        state.unreachable = str(err)
                    except Exception as err:
                        log.exception("SMTP: connecting to %s failed", self.server.display)
                        state.unreachable = f"cannot connect: {_describe(err)}"
                if state.unreachable is not None:
                    result: DeliveryResult | None = DeliveryResult(
                        job.item.key, "retry", None, state.unreachable
                    )
                else:
                    result = await self._attempt(link, job, state)
                if result is not None:
                    await self._finish(state, job, result)
        finally:
            idle.put_nowait(link)

    async def _attempt(self, link: _Link, job: _Job, state: _Batch) -> DeliveryResult | None:
        """Try one message once: its final result, or None when it is scheduled again."""
        job.attempts += 1
        try:
            result = await self._deliver(link, job.item)
        except _Transient as err:
            if err.connection:
                job.connection_faults += 1
            if job.attempts > self.retries:
                detail = f"{err.detail} (gave up after {job.attempts} attempts)"
                return DeliveryResult(job.item.key, "retry", None, detail, err.code)
            self._again(state, job, self._delay(job, connection=err.connection))
            return None
        except Exception as err:
            # Whatever it was, this message must end and the others go on.
            log.exception("SMTP: sending %s failed unexpectedly", job.item.key)
            link.drop()
            result = DeliveryResult(job.item.key, "failed", None, f"error: {_describe(err)}")
        return result

    async def _deliver(self, link: _Link, item: OutgoingEmail) -> DeliveryResult:
        """Send one message on an open connection: its final result, or _Transient."""
        client = link.client
        if client is None:
            raise _Transient("no connection", connection=True)
        key = item.key
        # An internationalized address needs SMTPUTF8 (RFC 6531); aiosmtplib says so when the
        # server lacks it (SMTPNotSupported: failed).
        options = () if item.to.isascii() and item.sender.isascii() else ("SMTPUTF8",)
        try:
            reply = await _transaction(client, item, options)
        except aiosmtplib.SMTPRecipientsRefused as err:
            refused = err.recipients[0]
            return _refusal(key, refused.code, refused.message, "bounced")
        except aiosmtplib.SMTPRecipientRefused as err:
            return _refusal(key, err.code, err.message, "bounced")
        except aiosmtplib.SMTPSenderRefused as err:
            return _refusal(key, err.code, f"sender refused: {err.message}", "failed")
        except aiosmtplib.SMTPDataError as err:
            return _refusal(key, err.code, err.message, "bounced")
        except aiosmtplib.SMTPNotSupported as err:
            return DeliveryResult(key, "failed", None, str(err))
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as err:
            link.drop()
            raise _Transient(f"connection lost: {_describe(err)}", connection=True) from None
        except aiosmtplib.SMTPResponseException as err:
            # A refusal outside the envelope (e.g. 421 to EHLO): the server's state is unclear.
            link.drop()
            if err.code >= 500:
                return DeliveryResult(key, "failed", None, f"{err.code} {err.message}", err.code)
            raise _Transient(f"{err.code} {err.message}", err.code, connection=True) from None
        except (ValueError, TypeError, UnicodeError, aiosmtplib.SMTPException) as err:
            # A message that cannot be sent as it is (no From, a malformed address or header).
            link.drop()
            return DeliveryResult(key, "failed", None, f"cannot send: {_describe(err)}")
        return DeliveryResult(key, "sent", item.message_id, reply, 250)

    async def _connect(self, link: _Link) -> None:
        """Open the link's connection (STARTTLS, AUTH), retrying; _Unreachable if it cannot."""
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff(attempt))
            try:
                link.client = await self._open()
                return
            except _Unreachable:
                raise
            except aiosmtplib.SMTPConnectResponseError as err:
                if err.code >= 500:
                    raise _Unreachable(
                        f"{self.server.display} refuses us: {err.code} {err.message}"
                    ) from None
                problem = f"{err.code} {err.message}"
            except (aiosmtplib.SMTPException, OSError) as err:
                problem = _describe(err)
        raise _Unreachable(
            f"cannot reach {self.server.display}: {problem} "
            f"(gave up after {self.retries + 1} attempts)"
        )

    async def _open(self) -> aiosmtplib.SMTP:
        """A fresh, ready connection: greeted, STARTTLS as configured, logged in."""
        server = self.server
        if self._local_hostname is None:
            # Asked once: the lookup can be slow, and every connection would ask again.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        if self._tls_context is None and (server.implicit_tls or server.starttls != "off"):
            # Made once: loading the trusted CAs takes a while.
            self._tls_context = server.tls_context()
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            timeout=self.timeout,
            use_tls=server.implicit_tls,
            start_tls=False,  # decided below, where "require" can say what is missing
            tls_context=self._tls_context,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
            self.opened += 1
            if not server.implicit_tls and server.starttls != "off":
                await client.ehlo()
                if client.supports_extension("starttls"):
                    await client.starttls()
                elif server.starttls == "require":
                    raise _Unreachable(
                        f"{server.display} does not offer STARTTLS, which the url requires"
                    )
            if server.username is not None:
                await self._login(client)
        except ssl.SSLError as err:
            client.close()
            raise _Unreachable(f"TLS with {server.display} failed: {_describe(err)}") from None
        except aiosmtplib.SMTPAuthenticationError as err:
            client.close()
            raise _Unreachable(
                f"{server.display} refused the credentials: {err.code} {err.message}"
            ) from None
        except BaseException:
            client.close()
            raise
        return client

    async def _login(self, client: aiosmtplib.SMTP) -> None:
        """AUTH, refusing to send the password in the clear unless the url says starttls=off."""
        server = self.server
        encrypted = client.get_transport_info("sslcontext") is not None
        if not encrypted and server.starttls != "off":
            raise _Unreachable(
                f"{server.display} offers no STARTTLS; refusing to send the password "
                "unencrypted (use smtps://, or ?starttls=off to allow it)"
            )
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()  # again after STARTTLS, which forgets what the server offers
        if not client.supports_extension("auth"):
            raise _Unreachable(f"{server.display} does not offer AUTH, but the url has a user")
        await client.login(server.username or "", server.password or "")

    def _again(self, state: _Batch, job: _Job, delay: float) -> None:
        """Put the job back on the queue after `delay` seconds."""
        if delay <= 0:
            state.queue.put_nowait(job)
        else:
            loop = asyncio.get_running_loop()
            state.timers.append(loop.call_later(delay, state.queue.put_nowait, job))

    def _delay(self, job: _Job, *, connection: bool) -> float:
        """Backoff before the next attempt; a first lost connection is retried at once."""
        if connection and job.connection_faults == 1:
            return 0.0
        return self._backoff(job.attempts)

    def _backoff(self, attempt: int) -> float:
        return min(MAX_BACKOFF, self.backoff * 2.0 ** (attempt - 1))

    async def _finish(self, state: _Batch, job: _Job, result: DeliveryResult) -> None:
        """Have a message's final result recorded; when the stream is done, end the workers."""
        try:
            await state.record(job.index, result)
        except Exception as err:
            state.stop(err)
            return
        state.remaining -= 1
        if state.remaining == 0 and state.exhausted and state.error is None:
            state.release()


async def _each(batch: Sequence[OutgoingEmail]) -> AsyncGenerator[OutgoingEmail, None]:
    """A batch as a source for `_stream`."""
    for item in batch:
        yield item


def _wire(data: bytes) -> bytes | None:
    """The DATA payload of a message in CRLF lines; None when its lines need normalising.

    Dot-stuffed and ended with the final ".": what aiosmtplib's `data` sends, found without
    its two regular-expression passes over the whole message (and a third for SIZE), about
    a third of the client's time per journey e-mail.
    """
    crlf = data.count(b"\r\n")
    if crlf != data.count(b"\r") or crlf != data.count(b"\n") or not data.endswith(b"\r\n"):
        return None
    if data.startswith(b".") or b"\n." in data:
        data = (b"." if data.startswith(b".") else b"") + data.replace(b"\n.", b"\n..")
    return data + b".\r\n"


def _mailbox(address: str, encoding: str) -> bytes:
    """`<address>` for MAIL FROM or RCPT TO, as aiosmtplib's `quote_address` writes it.

    A bare address (a profile's, the shop's) is written at once: `quote_address` parses
    each one with `email.utils.parseaddr`, twice per message. Any other goes through it,
    and it refuses what could smuggle parameters or commands onto the line.
    """
    if BARE_ADDRESS.fullmatch(address):
        return f"<{address}>".encode(encoding)
    return quote_address(address).encode(encoding)


async def _transaction(client: aiosmtplib.SMTP, item: OutgoingEmail, options: Sequence[str]) -> str:
    """MAIL, RCPT and DATA for one message; the server's reply to the data.

    Raises as `client.sendmail` does, except that a refused recipient is
    SMTPRecipientRefused. A message already in CRLF lines (every one compose makes) goes
    out through the client's public commands and its protocol's `write`/`read_response`;
    any other through `sendmail`, which normalises it.
    """
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    mail_options = list(options)
    if client.is_ehlo_or_helo_needed:
        # As sendmail does: EHLO for the extensions, HELO from a server that refuses it.
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not client.is_connected:
                raise
            await client.helo()
    if encoding == "utf-8" and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    data = item.data
    if not data.isascii():
        # 8bit text parts (RFC 6152): declared where the server offers 8BITMIME, else
        # re-encoded in base64, as aiosmtplib's send_message does.
        if client.supports_extension("8bitmime"):
            mail_options.append("BODY=8BITMIME")
        else:
            data = seven_bit(data)
    payload = _wire(data)
    if payload is None:
        _, text = await client.sendmail(item.sender, [item.to], data, mail_options=mail_options)
        return text
    if client.supports_extension("size"):
        mail_options.insert(0, f"size={len(data)}")
    try:
        # client.mail and client.rcpt, less their address parsing (see _mailbox).
        sender = await client.execute_command(
            b"MAIL",
            b"FROM:" + _mailbox(item.sender, encoding),
            *(option.encode("ascii") for option in mail_options),
        )
        if sender.code != 250:
            raise aiosmtplib.SMTPSenderRefused(sender.code, sender.message, item.sender)
        recipient = await client.execute_command(b"RCPT", b"TO:" + _mailbox(item.to, encoding))
        if recipient.code not in (250, 251):
            raise aiosmtplib.SMTPRecipientRefused(recipient.code, recipient.message, item.to)
        start = await client.execute_command(b"DATA")
        if start.code != 354:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        try:
            protocol.write(payload)
            reply = await protocol.read_response(timeout=client.timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
            client.close()
            raise
        if reply.code != 250:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    except aiosmtplib.SMTPResponseException:
        # As sendmail does: reset the envelope so the connection can take the next message.
        with contextlib.suppress(ConnectionError, aiosmtplib.SMTPException):
            await client.rset()
        raise
    return reply.message


def _refusal(key: str, code: int, text: str, permanent: Outcome) -> DeliveryResult:
    """The result of a refused message: final (`permanent`) for 5xx, else _Transient."""
    if 500 <= code < 600:
        return DeliveryResult(key, permanent, None, text, code)
    raise _Transient(f"{code} {text}", code)


def _describe(err: BaseException) -> str:
    """An exception as a short reason: its type and message."""
    text = str(err).strip()
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
