"""A rendered e-mail made ready to send: CSS inlined, links tracked, text part, headers (pure).

The HTML's `<style>` rules are inlined into `style` attributes by css_inline (media queries are
kept in a `<style>` block for the clients that read them). Each `<a href>` to an http(s)
address in css_inline's output is rewritten to the signed click redirect; the anchors are
found by a small HTML tokenizer (lifetide.messaging.anchors), so only anchor tags change;
mailto:, tel:, #anchors and Lifetide's own unsubscribe and tracking links are left alone. A
1x1 open pixel goes at the end of the body. Without a text template, the plain-text part is
drawn from the HTML by html2text; its links are tracked too. Both parts go on the wire as
they are (7bit or 8bit) where RFC 5322's line limit allows, else in base64. `compose_email`
gives the message object; `compose_outgoing` writes the same message's bytes directly.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage, MIMEPart
from email.policy import EmailPolicy, Policy
from email.utils import format_datetime, parseaddr
from typing import Any

import html2text

from lifetide.channels.messages import (
    BARE_ADDRESS,
    OutgoingEmail,
    crlf_lines,
    envelope_sender,
    outgoing_email,
)
from lifetide.messaging.anchors import rewrite_links
from lifetide.messaging.links import Links, Medium, is_web_link
from lifetide.messaging.templates import (
    RenderedEmail,
    TemplateSource,
    inline_css,
    render_email,
)


class _Headers(HeaderRegistry):
    """The standard header classes, each built once (the stock registry builds one per use)."""

    @functools.lru_cache(maxsize=128)  # noqa: B019 (one registry lives for the process)
    def __getitem__(self, name: str) -> type[BaseHeader]:
        return super().__getitem__(name)


class _Verbatim(str):
    """A header value written exactly as given, whichever policy serializes the message."""

    name: str

    def __new__(cls, name: str, value: str) -> _Verbatim:
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy: Policy) -> str:
        """The header on one line (how the email package asks a header to write itself)."""
        return f"{self.name}: {self}{policy.linesep}"


class _Policy(EmailPolicy):
    """SMTP's policy, except that a plain ASCII value is written exactly as it was set.

    The stock policy refolds any header line over 78 characters, and a long token with no
    space to fold at (the List-Unsubscribe URL) comes out as RFC 2047 encoded words, which
    no mail client can use. RFC 5322 allows lines up to 998 characters, so such a value is
    kept on one line, also when a transport serializes the message with a policy of its own
    (`aiosmtplib.send_message` uses `email.policy.SMTP`). Text with spaces and non-ASCII
    still fold. Keeping short values as strings also skips parsing each header twice.
    """

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        """Short ASCII values as given, long unfoldable ones verbatim, the rest as objects."""
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and len(name) + len(value) + 2 <= 998
        ):
            if len(name) + len(value) + 2 <= 78:
                return (name, value)
            if " " not in value:
                return (name, _Verbatim(name, value))
        return super().header_store_parse(name, value)  # type: ignore[no-any-return]

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        """A value stored as a plain string comes back as that string.

        The stock policy parses it into a header object on every read, and flattening a
        message reads Content-Type several times per part: a fifth of the time to send one.
        """
        if isinstance(value, str) and not hasattr(value, "name"):
            return value
        return super().header_fetch_parse(name, value)


_POLICY = _Policy(linesep="\r\n", refold_source="none", header_factory=_Headers())
# Headers compose_email sets itself; `headers` may not replace them.
_OWN_HEADERS = frozenset(
    h.lower()
    for h in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "X-Lifetide-Send",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    )
)
# A URL in plain text ends at whitespace or a character that cannot end one in prose.
_TEXT_URL = re.compile(r"https?://[^\s<>\"'\]\)]+[^\s<>\"'\]\).,;:!?]")


def _pixel(url: str) -> str:
    return (
        f'<img src="{html.escape(url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0" />'
    )


# The last "</body" in any case: the greedy `.*` runs to the end and the engine backs up to
# it. Lower-casing the whole document to rfind it cost as much as the search, and put the
# pixel inside the tag when a character before it lower-cases to two ("İ" of a Turkish name).
_LAST_BODY_END = re.compile(r".*(</[bB][oO][dD][yY])", re.DOTALL)


def _with_pixel(source: str, pixel: str) -> str:
    found = _LAST_BODY_END.match(source)
    if found is None:
        return source + pixel
    end = found.start(1)
    return source[:end] + pixel + source[end:]


def text_from_html(source: str) -> str:
    """A readable plain-text version of an HTML e-mail (links kept as addresses)."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.inline_links = False
    converter.wrap_links = False
    converter.unicode_snob = True
    return str(converter.handle(source)).strip() + "\n"


class _Tracker:
    """Decides which links to wrap in the click redirect, and wraps them."""

    def __init__(
        self, links: Links, key: str, journey_id: int | None, step: str, medium: Medium
    ) -> None:
        self._links, self._key, self._journey, self._step = links, key, journey_id, step
        self._medium = medium
        self._done: dict[str, str | None] = {}

    def __call__(self, href: str) -> str | None:
        """The tracked address for `href`, or None to leave it as it is."""
        url = href.strip()
        if url not in self._done:
            tracked = None
            if is_web_link(url) and not self._links.is_own(url):
                tracked = self._links.click_url(
                    self._key, url, journey_id=self._journey, step=self._step, medium=self._medium
                )
            self._done[url] = tracked
        return self._done[url]

    def text(self, body: str) -> str:
        """Plain text with its http(s) addresses tracked."""
        return _TEXT_URL.sub(lambda m: self(m.group(0)) or m.group(0), body)


def track_text(
    body: str, *, key: str, links: Links, journey_id: int | None, step: str, medium: Medium
) -> str:
    """An SMS or push text with each http(s) address replaced by its tracked redirect."""
    return _Tracker(links, key, journey_id, step, medium).text(body)


def split_address(value: str) -> tuple[str, str]:
    """(display name, address) of `value`, as `email.utils.parseaddr` reads it.

    A bare address, what a profile holds, is recognised at once: parseaddr takes 40 µs.
    """
    if BARE_ADDRESS.fullmatch(value):
        return "", value
    return parseaddr(value)


@functools.lru_cache(maxsize=16)  # one sender for every e-mail of a Lifetide
def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    user, at, domain = address.rpartition("@")
    if not (user and at and re.fullmatch(r"[A-Za-z0-9.-]+", domain)):
        raise ValueError(f"sender {sender!r} has no e-mail address with a domain")
    return domain


def message_id(key: str, sender: str) -> str:
    """The Message-ID of send `key`: `<{key, ':' as '.'}@{sender's domain}>`."""
    return f"<{key.replace(':', '.')}@{_domain(sender)}>"


@dataclass(frozen=True)
class _Composed:
    """An e-mail's headers (as set, in order) and its text parts, before either way out."""

    headers: list[tuple[str, str | Address]]
    message_id: str
    boundary: str
    # (subtype, transfer encoding, body as its part carries it)
    parts: list[tuple[str, str, bytes]]


def _compose(
    rendered: RenderedEmail,
    *,
    key: str,
    to: str,
    sender: str,
    links: Links,
    profile_id: int,
    journey_id: int | None,
    step: str,
    date: dt.datetime,
    headers: Mapping[str, str] | None,
    unsubscribe: str | None = None,
) -> _Composed:
    if date.tzinfo is None:
        raise ValueError("compose_email needs a timezone-aware date")
    name, address = split_address(to)
    if "@" not in address:
        raise ValueError(f"recipient {to!r} is not an e-mail address")
    tracker = _Tracker(links, key, journey_id, step, "email")
    # Links are rewritten in css_inline's output, not before inlining: a rule's [href]
    # selector must see the shop's address, and the parser's serialization leaves no doubt
    # about which tags are anchors. (Rewriting first saved under 2% of building an e-mail.)
    inlined = inline_css(rendered.html)
    body_html = _with_pixel(rewrite_links(inlined, tracker), _pixel(links.open_url(key)))
    text = rendered.text or text_from_html(rendered.html)
    if unsubscribe is None:
        unsubscribe = links.unsubscribe_url(key, profile_id, "email", address)
    # 78 characters with its name, so the header stays one plain string (see _Policy): the
    # email package's parser took 70 µs for it. 84 bits of the key's hash; _payload checks
    # that the boundary is not in a part.
    boundary = f"lifetide-{hashlib.sha256(key.encode()).hexdigest()[:21]}"
    identifier = message_id(key, sender)
    own: list[tuple[str, str | Address]] = [
        ("From", sender),
        ("To", _recipient(name, address)),
        ("Subject", rendered.subject),
        ("Date", format_datetime(date.astimezone(dt.UTC))),
        ("Message-ID", identifier),
        ("X-Lifetide-Send", key),
        ("List-Unsubscribe", f"<{unsubscribe}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    for header in headers or {}:
        if header.lower() in _OWN_HEADERS:
            raise ValueError(f"header {header!r} is set by compose_email and cannot be replaced")
    own += (headers or {}).items()
    own.append(("MIME-Version", "1.0"))
    own.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
    parts = [
        ("plain", *_payload(tracker.text(text), boundary)),
        ("html", *_payload(body_html, boundary)),
    ]
    return _Composed(own, identifier, boundary, parts)


def compose_email(
    rendered: RenderedEmail,
    *,
    key: str,
    to: str,
    sender: str,
    links: Links,
    profile_id: int,
    journey_id: int | None,
    step: str,
    date: dt.datetime,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The e-mail of send `key`: multipart/alternative (text, then HTML), ready for SMTP.

    `date` (timezone-aware) is the Date header; `headers` adds headers of the caller's own
    (e.g. Reply-To) but may not replace the ones set here.
    """
    composed = _compose(
        rendered,
        key=key,
        to=to,
        sender=sender,
        links=links,
        profile_id=profile_id,
        journey_id=journey_id,
        step=step,
        date=date,
        headers=headers,
    )
    return _message(composed)


def _message(composed: _Composed) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    for name, value in composed.headers:
        message[name] = value
    message.set_payload([_part(*part) for part in composed.parts])
    return message


def compose_outgoing(
    rendered: RenderedEmail,
    *,
    key: str,
    to: str,
    sender: str,
    links: Links,
    profile_id: int,
    journey_id: int | None,
    step: str,
    date: dt.datetime,
    headers: Mapping[str, str] | None = None,
    unsubscribe: str | None = None,
) -> OutgoingEmail:
    """`compose_email`'s e-mail ready for a transport: what `outgoing_email` makes of it.

    The same bytes (a test holds it to that), written straight from the headers and parts:
    building the message object and flattening it was a fifth of the time to build a
    journey e-mail. Headers are still stored and folded by the message's policy; only with
    `headers` of the caller's own (a Bcc, say) does the message object go the whole way.
    `unsubscribe`: the send's unsubscribe address, when the caller signed it already.
    """
    composed = _compose(
        rendered,
        key=key,
        to=to,
        sender=sender,
        links=links,
        profile_id=profile_id,
        journey_id=journey_id,
        step=step,
        date=date,
        headers=headers,
        unsubscribe=unsubscribe,
    )
    if headers:
        return outgoing_email(key, to, _message(composed))
    envelope = envelope_sender(sender)
    if not envelope:
        raise ValueError("the message has no From header with an address")
    fold, store = _POLICY.fold_binary, _POLICY.header_store_parse
    out = [fold(*store(name, value)) for name, value in composed.headers]
    delimiter = f"\r\n--{composed.boundary}".encode("ascii")
    for subtype, encoding, body in composed.parts:
        out.append(
            delimiter
            + f"\r\nContent-Type: {_text_type(subtype)}\r\n"
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode("ascii")
        )
        out.append(crlf_lines(body))
    out.append(delimiter + b"--\r\n")
    return OutgoingEmail(key, to, envelope, composed.message_id, b"".join(out))


# RFC 5322 2.1.1: a line is at most 998 octets, not counting its CRLF.
MAX_LINE = 998


def transfer_encoding(body: bytes, boundary: str) -> str:
    """How a text part's UTF-8 `body` goes on the wire: "7bit", "8bit" or "base64".

    As it is (7bit when ASCII, else 8bit: RFC 2045 2.7 and 2.8) when every line fits RFC
    5322's 998 octets, it holds no NUL and no CR outside a CRLF, and no line could be read as
    the boundary; base64 otherwise. An 8bit message needs a server that offers 8BITMIME
    (RFC 6152): the SMTP transport says BODY=8BITMIME, or re-encodes the message for a server
    without it. Base64 for every part cost more CPU to write, a third more bytes, and twice
    the lines, which the receiving server reads one by one.
    """
    # Most bodies have no CR at all: the copy without CRLFs is made only for one that has.
    lone_cr = b"\r" in body and b"\r" in body.replace(b"\r\n", b"")
    if b"\0" in body or lone_cr or f"--{boundary}".encode() in body:
        return "base64"
    if len(body) > MAX_LINE and max(map(len, body.split(b"\n"))) > MAX_LINE:
        return "base64"
    return "7bit" if body.isascii() else "8bit"


def text_part(subtype: str, body: str, boundary: str) -> MIMEPart:
    """A UTF-8 text/`subtype` part, written as it is where RFC 5322 allows, else in base64.

    See `transfer_encoding`. As it is, its line breaks go on the wire as CRLF, MIME's
    canonical form for text (RFC 2046 4.1.1): parsed back, the text is the same with each
    line break a CRLF. In base64 it comes back byte for byte.
    """
    return _part(subtype, *_payload(body, boundary))


def _payload(body: str, boundary: str) -> tuple[str, bytes]:
    """A text part's transfer encoding, and its body as the part carries it."""
    data = body.encode("utf-8")
    encoding = transfer_encoding(data, boundary)
    if encoding == "base64":
        # C-speed encoding in 76-character lines; base64 has no '-', so no boundary either.
        return encoding, base64.encodebytes(data)
    return encoding, data


def _part(subtype: str, encoding: str, body: bytes) -> MIMEPart:
    part = MIMEPart(policy=_POLICY)
    part["Content-Type"] = _text_type(subtype)
    part["Content-Transfer-Encoding"] = encoding
    # As the email parser holds 8bit data (surrogate escapes): BytesGenerator writes the
    # bytes as they are, and a 7bit serializer (str(), or aiosmtplib for a server without
    # 8BITMIME) re-encodes them by the part's charset.
    part.set_payload(body.decode("ascii", "surrogateescape"))
    return part


def _text_type(subtype: str) -> str:
    """A text part's Content-Type, the same whichever way the message is written."""
    return f'text/{subtype}; charset="utf-8"'


def _recipient(name: str, address: str) -> Address | str:
    if not name:
        return address
    user, _, domain = address.rpartition("@")
    return Address(display_name=name, username=user, domain=domain)


def build_outgoing(
    template: TemplateSource,
    context: Mapping[str, Any],
    *,
    key: str,
    to: str,
    sender: str,
    links: Links,
    profile_id: int,
    journey_id: int | None,
    step: str,
    date: dt.datetime,
) -> OutgoingEmail:
    """Render `template` with `context` plus its footer links, then write the e-mail.

    The one call a dispatcher needs (see `compose_outgoing`): raises `TemplateProblem` when
    the template fails.
    """
    address = split_address(to)[1]
    footer = links.message_links(key, profile_id, "email", address)
    rendered = render_email(template, {**context, **footer})
    return compose_outgoing(
        rendered,
        key=key,
        to=to,
        sender=sender,
        links=links,
        profile_id=profile_id,
        journey_id=journey_id,
        step=step,
        date=date,
        unsubscribe=footer["unsubscribe_url"],
    )
