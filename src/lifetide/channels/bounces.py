"""Reading bounces and complaints from the messages mail servers send back.

RFC 3464 delivery status notifications, RFC 5965 feedback reports (ARF), and the plain-text
bounces some servers still send; providers' JSON events are read by parse_provider_event.

A DSN (multipart/report; report-type=delivery-status) has one block of fields per recipient:

    Final-Recipient: rfc822; ana@example.com
    Action: failed
    Status: 5.1.1
    Diagnostic-Code: smtp; 550 5.1.1 <ana@example.com>: Recipient address rejected

"failed" with a 5.x.x status is a hard bounce; a 4.x.x status or "delayed" is a soft one;
"delivered", "relayed" and "expanded" are not bounces and are left out. The returned message
(message/rfc822, or text/rfc822-headers when only its headers come back) gives the Message-ID
and X-Lifetide-Send of the message that bounced. A feedback report (report-type=
feedback-report) is a complaint by its Original-Rcpt-To, or by the returned message's To.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.policy import Compat32

from lifetide.channels.provider_events import parse_provider_event
from lifetide.channels.reports import BounceKind, BounceReport, NotABounce

__all__ = ["BounceKind", "BounceReport", "NotABounce", "parse_dsn", "parse_provider_event"]

STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
FEEDBACK_TYPE = "message/feedback-report"
ORIGINAL_TYPES = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/global-headers",
)
NOT_BOUNCES = {"delivered", "relayed", "expanded"}
ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
BASIC = re.compile(r"(?<!\d)([45]\d\d)(?=[ -])")
BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|returned to sender|delivery status notification|"
    r"delivery (has )?fail|mail delivery (failed|failure|subsystem)|failure notice|"
    r"could not be delivered|non-?delivery",
    re.IGNORECASE,
)
BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery (system|subsystem)", re.I)
# Where plain-text bounces name a failed recipient: Postfix/Exim transcripts, qmail, Exim's
# list under "the following address(es) failed".
RECIPIENT_PATTERNS = (
    re.compile(r"RCPT TO:\s*<([^<>\s]+@[^<>\s]+)>", re.IGNORECASE),
    re.compile(r"^<([^<>\s]+@[^<>\s]+)>:", re.MULTILINE),
    re.compile(r"address(?:\(es\))? failed:\s*\n+\s*<?([^<>\s]+@[^<>\s:]+)>?", re.IGNORECASE),
)
HEADER_LINE = r"^{name}:[ \t]*(.+?)[ \t]*$"


class _Utf8Headers(Compat32):
    """The stdlib's lenient parsing, but raw UTF-8 in headers (RFC 6532) read as text."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        """The header's value, its undecodable bytes taken as UTF-8 instead of dropped."""
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


POLICY = _Utf8Headers()


@dataclass(frozen=True)
class _Original:
    """What the report tells of the message that bounced."""

    message_id: str | None = None
    send_key: str | None = None
    to: tuple[str, ...] = ()


def parse_dsn(raw: bytes) -> list[BounceReport]:
    """The bounces (RFC 3464) or complaints (RFC 5965) a raw message reports; NotABounce if none.

    Recipients whose delivery succeeded are left out, so a report of only successes is [].
    """
    if not isinstance(raw, bytes | bytearray):
        raise TypeError(f"parse_dsn needs the raw message as bytes, not {type(raw).__name__}")
    if not raw.strip():
        raise NotABounce("the message is empty")
    message = email.message_from_bytes(bytes(raw), policy=POLICY)
    container, report = _report_part(message)
    original = _original(container, message)
    if report is None:
        return _plain_text_bounce(message, original)
    if report.get_content_type() == FEEDBACK_TYPE:
        return _complaints(report, original)
    return _bounces(report, original)


def _report_part(message: Message) -> tuple[Message | None, Message | None]:
    """The multipart holding the machine-readable report, and the report part itself."""
    if message.get_content_type() in (*STATUS_TYPES, FEEDBACK_TYPE):
        return None, message
    for part in message.walk():
        if part.get_content_maintype() != "multipart":
            continue
        for child in _children(part):
            if child.get_content_type() in (*STATUS_TYPES, FEEDBACK_TYPE):
                return part, child
    return None, None


def _original(container: Message | None, message: Message) -> _Original:
    """Message-ID, X-Lifetide-Send and To of the returned message, from its part or the text."""
    candidates: list[Message] = []
    if container is not None:
        candidates = [c for c in _children(container) if c.get_content_type() in ORIGINAL_TYPES]
    else:
        candidates = [p for p in message.walk() if p.get_content_type() in ORIGINAL_TYPES]
    for part in candidates:
        headers = _returned_headers(part)
        if headers is not None and len(headers):
            return _Original(
                message_id=_clean(headers.get("Message-ID")),
                send_key=_clean(headers.get("X-Lifetide-Send")),
                to=tuple(a for _, a in email.utils.getaddresses(headers.get_all("To", [])) if a),
            )
    # No returned message: some bounces quote its headers in their text.
    text = _body_text(message)
    return _Original(
        message_id=_header_in_text("Message-ID", text),
        send_key=_header_in_text("X-Lifetide-Send", text),
    )


def _returned_headers(part: Message) -> Message | None:
    """The headers of a returned message, as a Message."""
    if part.get_content_maintype() == "message":
        inner = _children(part)
        return inner[0] if inner else None
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return None
    return HeaderParser(policy=POLICY).parsestr(_decode(data, part))


def _status_blocks(report: Message) -> list[Message]:
    """The field blocks of a delivery-status part: the per-message one, then per recipient."""
    payload = report.get_payload()
    if isinstance(payload, str):
        data = report.get_payload(decode=True)
        return _text_blocks(_decode(data, report) if isinstance(data, bytes) else payload)
    blocks: list[Message] = []
    for block in _children(report):
        blocks.append(block)
        # message/global-delivery-status is parsed as one message whose body is the rest.
        rest = block.get_payload(decode=True)
        if isinstance(rest, bytes) and rest.strip():
            blocks.extend(_text_blocks(rest.decode("utf-8", "replace")))
    return blocks


def _text_blocks(text: str) -> list[Message]:
    parser = HeaderParser(policy=POLICY)
    chunks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    return [parser.parsestr(chunk.strip() + "\n") for chunk in chunks if chunk.strip()]


def _bounces(report: Message, original: _Original) -> list[BounceReport]:
    """One report per recipient block that says the delivery failed or is delayed."""
    reports: list[BounceReport] = []
    recipients_seen = False
    for block in _status_blocks(report):
        address = _address(block.get("Original-Recipient")) or _address(
            block.get("Final-Recipient")
        )
        if address is None:
            continue
        recipients_seen = True
        action = (_clean(block.get("Action")) or "").lower()
        status = _status(block.get("Status"))
        diagnostic = _diagnostic(block.get("Diagnostic-Code"))
        if status is None and diagnostic is not None:
            status = _status(diagnostic)
        kind = _kind(action, status, diagnostic)
        if kind is None:
            continue
        reports.append(
            BounceReport(
                recipient=address,
                kind=kind,
                status=status,
                diagnostic=diagnostic,
                message_id=original.message_id,
                send_key=original.send_key,
            )
        )
    if not recipients_seen:
        raise NotABounce(
            "the delivery-status part has no recipient block (no Final-Recipient field)"
        )
    return reports


def _kind(action: str, status: str | None, diagnostic: str | None) -> BounceKind | None:
    """Hard, soft, or None for a recipient whose delivery did not fail."""
    if action in NOT_BOUNCES:
        return None
    if action == "delayed":
        return "soft"
    klass = status[0] if status else _basic_class(diagnostic)
    if action == "failed":
        return "soft" if klass == "4" else "hard"
    # No (or an unknown) action: the status decides.
    if klass == "5":
        return "hard"
    if klass == "4":
        return "soft"
    return None


def _complaints(report: Message, original: _Original) -> list[BounceReport]:
    """The complaint an ARF feedback report makes, one per reported recipient."""
    fields = report
    inner = report.get_payload()
    if _children(report):
        fields = _children(report)[0]
    elif isinstance(inner, str) and inner.strip():
        fields = _text_blocks(inner)[0]
    feedback = (_clean(fields.get("Feedback-Type")) or "abuse").lower()
    if feedback == "not-spam":
        return []
    recipients = [a for a in map(_address, fields.get_all("Original-Rcpt-To", [])) if a]
    if not recipients:
        recipients = list(original.to)
    if not recipients:
        raise NotABounce(
            "the feedback report names no recipient: no Original-Rcpt-To field and no To "
            "header in the returned message"
        )
    return [
        BounceReport(
            recipient=address,
            kind="complaint",
            status=None,
            diagnostic=f"feedback-type: {feedback}",
            message_id=original.message_id,
            send_key=original.send_key,
        )
        for address in dict.fromkeys(recipients)
    ]


def _plain_text_bounce(message: Message, original: _Original) -> list[BounceReport]:
    """A bounce without a delivery-status part, read from its text (Exim, qmail, old Postfix)."""
    subject = " ".join((message.get("Subject") or "").split())
    sender = message.get("From") or ""
    if not (BOUNCE_SUBJECT.search(subject) or BOUNCE_SENDER.search(sender)):
        raise NotABounce(
            f"no delivery-status or feedback-report part, and neither the subject "
            f"({subject[:80]!r}) nor the sender ({sender[:80]!r}) looks like a bounce"
        )
    text = _body_text(message)
    found = sorted(
        {(m.start(), m.group(1)) for pattern in RECIPIENT_PATTERNS for m in pattern.finditer(text)}
    )
    reports: list[BounceReport] = []
    for number, (start, address) in enumerate(found):
        end = found[number + 1][0] if number + 1 < len(found) else len(text)
        if any(r.recipient.lower() == address.lower() for r in reports):
            continue
        stretch = text[start:end]
        line, status = _code_line(stretch)
        if status is None:
            continue
        reports.append(
            BounceReport(
                recipient=address,
                kind="hard" if status.startswith("5") else "soft",
                status=status,
                diagnostic=line,
                message_id=original.message_id,
                send_key=original.send_key,
            )
        )
    if not reports:
        what = "failed recipient with an SMTP status" if found else "failed recipient"
        raise NotABounce(
            f"the message looks like a bounce ({subject[:80]!r}) but its text names no {what}"
        )
    return reports


def _code_line(text: str) -> tuple[str | None, str | None]:
    """The first line in `text` with a 4xx/5xx status, and that status as x.y.z."""
    for line in text.splitlines():
        enhanced = ENHANCED.search(line)
        if enhanced and enhanced.group(1) in "45":
            return " ".join(line.split()), enhanced.group(0)
        basic = BASIC.search(line)
        if basic:
            return " ".join(line.split()), f"{basic.group(1)[0]}.0.0"
    return None, None


def _body_text(message: Message) -> str:
    """The text of the message's own text parts (not of any message it encloses)."""
    texts: list[str] = []
    for part in _own_parts(message):
        if part.get_content_maintype() == "text" and part.get_content_type() not in ORIGINAL_TYPES:
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                texts.append(_decode(data, part))
    return "\n".join(texts).replace("\r\n", "\n")


def _own_parts(message: Message) -> Iterator[Message]:
    """The message and its parts, without descending into enclosed messages."""
    yield message
    if message.get_content_maintype() == "multipart":
        for child in _children(message):
            yield from _own_parts(child)


def _children(part: Message) -> list[Message]:
    """The parts of a multipart, or the message a message/* part encloses."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [child for child in payload if isinstance(child, Message)]


def _decode(data: bytes, part: Message) -> str:
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _header_in_text(name: str, text: str) -> str | None:
    found = re.search(HEADER_LINE.format(name=re.escape(name)), text, re.I | re.M)
    return _clean(found.group(1)) if found else None


def _address(value: str | None) -> str | None:
    """The address of a recipient field ("rfc822; <ana@example.com>")."""
    text = _clean(value)
    if not text:
        return None
    _, semicolon, address = text.partition(";")
    address = (address if semicolon else text).strip().strip("<>").strip()
    return address or None


def _status(value: str | None) -> str | None:
    """The x.y.z status code in a Status field or a diagnostic."""
    found = ENHANCED.search(value or "")
    return found.group(0) if found else None


def _basic_class(diagnostic: str | None) -> str | None:
    found = BASIC.search(diagnostic or "")
    return found.group(1)[0] if found else None


def _diagnostic(value: str | None) -> str | None:
    """A Diagnostic-Code without its type ("smtp; 550 ..." -> "550 ..."), unfolded."""
    text = _clean(value)
    if not text:
        return None
    kind, semicolon, rest = text.partition(";")
    return rest.strip() if semicolon and " " not in kind.strip() else text


def _clean(value: object) -> str | None:
    """A header value as one line of text, or None when empty."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None
