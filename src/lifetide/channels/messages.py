"""What the dispatcher hands a transport, and what it gets back: one result per message.

Outcomes, as the dispatcher should read them:

- "sent": the server or provider took the message (`provider_message_id` identifies it).
- "bounced": the recipient's address is refused for good (5xx on RCPT or DATA; a provider's
  invalid_recipient); `code` and `detail` carry the server's answer.
- "failed": this message can never go out as it is, through no fault of the address (the
  sender is refused, the message is malformed, the provider refuses the request).
- "retry": nothing was decided: transient refusals (4xx) or faults (connection, timeout,
  authentication, TLS) outlasted the retries; send it again later.
"""

from __future__ import annotations

import copy
import email
import functools
import io
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.policy import SMTP, EmailPolicy, Policy
from email.utils import parseaddr
from typing import Any, Literal, Protocol

Outcome = Literal["sent", "bounced", "failed", "retry"]
TextChannel = Literal["sms", "push"]
OUTCOMES: tuple[Outcome, ...] = ("sent", "bounced", "failed", "retry")


@dataclass(frozen=True)
class OutgoingEmail:
    """One e-mail to send, flattened: key, envelope sender and recipient, Message-ID, bytes.

    Built by `outgoing_email`, in whichever process renders it: a transport only writes the
    bytes, so the costly part can be done by another process while this one sends.
    """

    key: str
    to: str
    sender: str
    message_id: str | None
    data: bytes


# A bare address, what a profile holds: parseaddr gives it back as it is, and it holds
# nothing (space, angle bracket, line break) that could end an SMTP command's argument.
BARE_ADDRESS = re.compile(
    r"[A-Za-z0-9_%+'-]+(?:\.[A-Za-z0-9_%+'-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


@functools.lru_cache(maxsize=64)  # one sender for every e-mail of a Lifetide
def envelope_sender(value: str) -> str:
    """The address part of a From or Sender value (parseaddr: a sixth of outgoing_email)."""
    return parseaddr(value)[1]


def outgoing_email(key: str, to: str, message: EmailMessage) -> OutgoingEmail:
    """`message` ready for a transport; ValueError when it has no sender or cannot be written.

    The message is flattened as SMTP carries it (CRLF, no Bcc) with its own policy. Compose's
    policy writes headers as they were set: flattening with `email.policy.SMTP` instead, as
    `aiosmtplib.send_message` does, parses every header again, a third of the time it takes
    to send a journey e-mail.
    """
    sender = ""
    for header in ("Sender", "From"):
        value = message.get(header)
        if value is not None and (sender := envelope_sender(str(value))):
            break
    if not sender:
        raise ValueError("the message has no From header with an address")
    if message.get("Bcc") is not None or message.get("Resent-Bcc") is not None:
        message = copy.copy(message)
        del message["Bcc"]
        del message["Resent-Bcc"]
    own = message.policy
    policy = own.clone(linesep="\r\n") if isinstance(own, EmailPolicy) else own
    data = flat_alternative(message, policy)
    if data is None:
        with io.BytesIO() as out:
            BytesGenerator(out, policy=policy).flatten(message)
            data = out.getvalue()
    found = message.get("Message-ID")
    return OutgoingEmail(key, to, sender, str(found).strip() if found else None, data)


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def crlf_lines(body: bytes, linesep: bytes = b"\r\n") -> bytes:
    """`body` with each line break (CRLF, CR or LF) a `linesep`."""
    return _LINE_BREAK.sub(linesep, body) if b"\r" in body else body.replace(b"\n", linesep)


def flat_alternative(message: Message, policy: Policy) -> bytes | None:
    """What `BytesGenerator(policy=policy)` writes for a multipart of leaf parts, or None.

    For the shape compose makes (a multipart whose boundary is set, with no preamble or
    epilogue, of parts with string payloads that need no re-encoding) it writes the same
    bytes (a test holds it to that) in a tenth of the time: the generator copies each part
    into a buffer of its own and writes its body line by line. Any other message: None.
    """
    parts = message.get_payload()
    boundary = message.get_boundary()
    if (
        not isinstance(parts, list)
        or not parts
        or message.get_content_type() == "multipart/signed"  # the generator has its own way
        or message.get_content_maintype() != "multipart"
        or boundary is None
        or message.preamble is not None
        or message.epilogue is not None
        or policy.mangle_from_
    ):
        return None
    linesep = policy.linesep.encode("ascii")
    delimiter = f"--{boundary}".encode("ascii")
    out = [policy.fold_binary(name, value) for name, value in message.raw_items()]
    for part in parts:
        if not isinstance(part, Message):
            return None
        # What BytesGenerator writes too: get_payload() decodes 8bit data by its charset.
        payload = getattr(part, "_payload", None)
        if (
            not isinstance(payload, str)
            or part.get_content_maintype() in ("multipart", "message")
            or part.preamble is not None
            or part.epilogue is not None
        ):
            return None
        try:
            body = payload.encode("ascii", "surrogateescape")
        except UnicodeEncodeError:
            return None
        if policy.cte_type == "7bit" and not body.isascii():
            return None  # 8bit data the generator would re-encode
        # The first delimiter follows the headers' blank line; each later one ends a part.
        out.append(linesep + delimiter + linesep)
        out += [policy.fold_binary(name, value) for name, value in part.raw_items()]
        out.append(linesep)
        out.append(crlf_lines(body, linesep))
    out.append(linesep + delimiter + b"--" + linesep)
    return b"".join(out)


# Headers are written as they came (refolding would break a long List-Unsubscribe URL into
# encoded words); 8bit text parts are re-encoded by their charset (base64 for UTF-8).
_SEVEN_BIT = SMTP.clone(cte_type="7bit", refold_source="none")


def seven_bit(data: bytes) -> bytes:
    """A flattened message with its 8bit text parts in base64, for a server without 8BITMIME.

    RFC 6152: 8bit content may only go to a server that offers 8BITMIME; compose writes text
    parts as they are (see lifetide.messaging.compose.text_part), so one that does not gets
    them re-encoded here. An all-ASCII message comes back as it is.
    """
    if data.isascii():
        return data
    message = email.message_from_bytes(data, policy=_SEVEN_BIT)
    with io.BytesIO() as out:
        BytesGenerator(out, policy=_SEVEN_BIT).flatten(message)
        return out.getvalue()


@dataclass(frozen=True)
class OutgoingText:
    """One SMS or push notification: key, recipient (phone number or device token), text."""

    key: str
    to: str
    body: str
    channel: TextChannel
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one message (see the module docstring for the outcomes)."""

    key: str
    outcome: Outcome
    provider_message_id: str | None = None
    detail: str | None = None
    code: int | None = None


# Told each message's result as it ends (its place in the stream, the result); a message's
# connection takes no other message until this returns.
Record = Callable[[int, DeliveryResult], Awaitable[None]]


class EmailTransport(Protocol):
    """Something that delivers e-mails: SmtpTransport, FileTransport."""

    async def send(self, batch: Sequence[OutgoingEmail]) -> list[DeliveryResult]:
        """One result per message, in batch order; never raises for one message's fault."""
        ...

    async def send_stream(
        self, source: AsyncGenerator[OutgoingEmail, None], record: Record
    ) -> None:
        """Deliver messages as `source` yields them, awaiting `record` for each result.

        Raises what `source` or `record` raised, once the messages under way have ended.
        """
        ...

    async def close(self) -> None:
        """Release connections; the transport may not be used afterwards."""
        ...


class TextTransport(Protocol):
    """Something that delivers SMS or push notifications: WebhookTransport."""

    async def send(self, batch: Sequence[OutgoingText]) -> list[DeliveryResult]:
        """One result per message, in batch order; never raises for one message's fault."""
        ...

    async def close(self) -> None:
        """Release connections; the transport may not be used afterwards."""
        ...
