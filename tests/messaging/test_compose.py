"""Composed e-mails, parsed back with the email package: every header, part and link."""

from __future__ import annotations

import datetime as dt
import email
import re
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import parseaddr
from typing import Any

import pytest
from aiosmtplib.email import flatten_message
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from lifetide.channels.messages import outgoing_email
from lifetide.messaging.anchors import anchors
from lifetide.messaging.compose import (
    _with_pixel,
    build_outgoing,
    compose_email,
    compose_outgoing,
    message_id,
    split_address,
    text_part,
    track_text,
    transfer_encoding,
)
from lifetide.messaging.links import Links
from lifetide.messaging.template_store import bundled_templates, sample_context
from lifetide.messaging.templates import RenderedEmail, render_email
from lifetide.messaging.tokens import LinkSigner
from tests.messaging.conftest import BASE

KEY = "12:first_email:1"
WHEN = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
UTM = "utm_source=lifetide&utm_medium=email&utm_campaign=journey-7&utm_content=first_email"

HTML = """<!DOCTYPE html>
<html><head><style>
  .button { color: #ffffff; background-color: #e36414; }
  a[href^="https://ignored.example"] { color: red; }
  @media only screen and (max-width: 620px) { .button { width: 100% !important; } }
</style></head>
<body>
<!-- <a href="https://in-a-comment.example/">not a link</a> -->
<p title='a > b <a href="https://in-an-attribute.example/">'>Hello Ada</p>
<a class="button" href="https://shop.example.com/cart?c=9&amp;x=1">Return to your cart</a>
<A HREF='https://shop.example.com/p/1'>Upper case</A>
<a href=https://shop.example.com/p/2 data-x>Unquoted</a>
<a href="mailto:help@shop.example.com">Mail us</a>
<a href="tel:+15555550100">Call us</a>
<a href="#top">Top</a>
<a name="no-href">anchor</a>
<img src="https://shop.example.com/i.jpg" alt="https://shop.example.com/not-a-link">
<script>var a = '<a href="https://in-a-script.example/">';</script>
<p><a href="{unsubscribe}">Unsubscribe</a> <a href="{preferences}">Preferences</a></p>
</body></html>
"""


def _arguments(links: Links, to: str = "Ada Lovelace <ada@example.com>") -> dict[str, Any]:
    return {
        "key": KEY,
        "to": to,
        "sender": "Lifetide Demo Shop <shop@shop.example.com>",
        "links": links,
        "profile_id": 42,
        "journey_id": 7,
        "step": "first_email",
        "date": WHEN,
    }


def _compose(links: Links, html: str, text: str = "", **kwargs: object) -> EmailMessage:
    rendered = RenderedEmail("Ünïcode cart — 10% off", html, text)
    return compose_email(rendered, **{**_arguments(links), **kwargs})


def _parsed(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _footer(links: Links) -> str:
    footer = links.message_links(KEY, 42, "email", "ada@example.com")
    return HTML.replace("{unsubscribe}", footer["unsubscribe_url"]).replace(
        "{preferences}", footer["preferences_url"]
    )


def _hrefs(html: str) -> list[str]:
    return [value or "" for _, _, attrs in anchors(html) for name, value in attrs if name == "href"]


def test_headers(links: Links, signer: LinkSigner) -> None:
    raw = _compose(links, _footer(links)).as_bytes()
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed["From"] == "Lifetide Demo Shop <shop@shop.example.com>"
    assert parsed["To"] == "Ada Lovelace <ada@example.com>"
    assert parsed["Subject"] == "Ünïcode cart — 10% off"
    assert parsed["Date"] == "Mon, 02 Nov 2026 10:00:00 +0000"
    assert parsed["Message-ID"] == "<12.first_email.1@shop.example.com>"
    assert parsed["X-Lifetide-Send"] == KEY
    assert parsed["MIME-Version"] == "1.0"
    unsubscribe = links.unsubscribe_url(KEY, 42, "email", "ada@example.com")
    assert parsed["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = unsubscribe.rsplit("/", 1)[1]
    assert signer.verify("unsubscribe", token)["a"] == "ada@example.com"
    # On the wire: the subject is RFC 2047 encoded (ASCII only), and the unsubscribe URL is
    # one plain line a mail client can POST to, not encoded words.
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert f"\r\nList-Unsubscribe: <{unsubscribe}>\r\n".encode() in head
    assert b"=?utf-8?" in head.split(b"\r\nSubject: ", 1)[1].split(b"\r\n", 1)[0]
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    # The multipart's Content-Type fits one line: written as it was set, never refolded.
    assert re.search(
        rb'\r\nContent-Type: multipart/alternative; boundary="lifetide-[0-9a-f]{21}"$', head
    )


@pytest.mark.parametrize(
    "serialize",
    [
        lambda m: m.as_bytes(),
        lambda m: m.as_bytes(policy=SMTP),
        lambda m: flatten_message(m),
    ],
    ids=["own-policy", "email.policy.SMTP", "aiosmtplib"],
)
def test_the_unsubscribe_header_survives_any_serializer(
    links: Links, serialize: Callable[[EmailMessage], bytes]
) -> None:
    raw = serialize(_compose(links, "<p>x</p>"))
    unsubscribe = links.unsubscribe_url(KEY, 42, "email", "ada@example.com")
    assert f"\r\nList-Unsubscribe: <{unsubscribe}>\r\n".encode() in raw
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed["Subject"] == "Ünïcode cart — 10% off"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_parts_are_text_then_html(links: Links) -> None:
    parsed = _parsed(_compose(links, _footer(links), "Hi Ada, see https://shop.example.com/cart"))
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text = parts[0].get_content()
    assert text.startswith("Hi Ada, see https://lifetide.example.com/t/c/")
    assert "<" not in text


def test_css_is_inlined_and_media_queries_kept(links: Links) -> None:
    body = _parsed(_compose(links, _footer(links))).get_body(("html",))
    assert body is not None
    html = body.get_content()
    button = re.search(r"<a [^>]*>Return to your cart", html)
    assert button is not None
    assert "color: #ffffff" in button.group(0) and "background-color: #e36414" in button.group(0)
    assert "@media only screen and (max-width: 620px)" in html
    assert ".button { color" not in html  # the inlined rule itself is gone


def test_links_are_tracked_and_decode_to_the_original_with_utm(
    links: Links, signer: LinkSigner
) -> None:
    body = _parsed(_compose(links, _footer(links))).get_body(("html",))
    assert body is not None
    html = body.get_content()
    hrefs = _hrefs(html)
    tracked = [h for h in hrefs if h.startswith(f"{BASE}/t/c/")]
    targets = [signer.verify("click", h.rsplit("/", 1)[1]) for h in tracked]
    assert [t["u"] for t in targets] == [
        f"https://shop.example.com/cart?c=9&x=1&{UTM}",
        f"https://shop.example.com/p/1?{UTM}",
        f"https://shop.example.com/p/2?{UTM}",
    ]
    assert {t["k"] for t in targets} == {KEY}
    footer = links.message_links(KEY, 42, "email", "ada@example.com")
    untouched = [h for h in hrefs if not h.startswith(f"{BASE}/t/c/")]
    assert untouched == [
        "mailto:help@shop.example.com",
        "tel:+15555550100",
        "#top",
        footer["unsubscribe_url"],
        footer["preferences_url"],
    ]
    # What only looked like links is as it was.
    for inert in (
        "https://in-a-comment.example/",
        "https://in-an-attribute.example/",
        "https://in-a-script.example/",
        "https://shop.example.com/not-a-link",
        'src="https://shop.example.com/i.jpg"',
    ):
        assert inert in html
    # Other attributes of a rewritten tag survive (css_inline writes a bare one as ="").
    assert re.search(r'<a href="https://lifetide\.example\.com/t/c/[^"]+" data-x="">Unquoted', html)


def test_href_selectors_see_the_shop_s_address_not_the_tracked_one(links: Links) -> None:
    # Why links are rewritten after inlining: the rule matches the address the marketer wrote.
    html = (
        '<html><head><style>a[href*="shop.example.com"] { color: #e36414; }</style></head>'
        '<body><a href="https://shop.example.com/cart">Cart</a></body></html>'
    )
    body = _parsed(_compose(links, html)).get_body(("html",))
    assert body is not None
    assert re.search(
        r'<a href="https://lifetide\.example\.com/t/c/[^"]+" style="color: #e36414;">Cart',
        body.get_content(),
    )


def test_the_open_pixel_is_the_last_thing_in_the_body(links: Links, signer: LinkSigner) -> None:
    body = _parsed(_compose(links, _footer(links))).get_body(("html",))
    assert body is not None
    html = body.get_content()
    pixel = re.search(r'<img src="([^"]+/t/o/([^"]+))" width="1" height="1" alt=""', html)
    assert pixel is not None
    assert signer.verify("open", pixel.group(2)) == {"k": KEY}
    assert re.search(r'width="1" height="1"[^>]*/>\s*</body>', html)


def test_the_open_pixel_stays_out_of_the_end_tag_after_a_turkish_capital_i(links: Links) -> None:
    # "İ".lower() is two characters: a search in the lower-cased text pointed past "</".
    body = _parsed(_compose(links, "<p>İlkay İnce, your cart</p>")).get_body(("html",))
    assert body is not None
    html = body.get_content()
    assert re.search(r'width="1" height="1"[^>]*/></body>', html)
    assert "</<img" not in html


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<html><body><p>x</p></body></html>", "<html><body><p>x</p>P</body></html>"),
        ("<BODY>x</BODY >", "<BODY>xP</BODY >"),
        ("a</Body>b</bOdY>c", "a</Body>bP</bOdY>c"),
        ("İİ</body>İ", "İİP</body>İ"),
        ("<p>no end tag</p></bod", "<p>no end tag</p></bodP"),
        ("", "P"),
    ],
)
def test_the_pixel_goes_before_the_last_body_end_tag(source: str, expected: str) -> None:
    assert _with_pixel(source, "P") == expected


def test_without_a_text_template_the_text_comes_from_the_html(links: Links) -> None:
    html = (
        "<html><head><style>p { color: red; }</style></head><body><h1>Hello Ada</h1>"
        '<p>Your <a href="https://shop.example.com/cart">cart</a> is waiting.</p></body></html>'
    )
    parsed = _parsed(_compose(links, html))
    text = parsed.get_body(("plain",))
    assert text is not None
    content = text.get_content()
    assert "# Hello Ada" in content and "Your [cart][1] is waiting." in content
    assert "color: red" not in content
    link = re.search(r"\[1\]: (\S+)", content)
    assert link is not None and link.group(1).startswith(f"{BASE}/t/c/")


def test_message_ids_follow_the_send_key() -> None:
    assert message_id("12:first_email:1", "Shop <shop@mail.shop.example>") == (
        "<12.first_email.1@mail.shop.example>"
    )
    with pytest.raises(ValueError, match="no e-mail address"):
        message_id("1:a:1", "Just a name")


def test_extra_headers_add_but_never_replace(links: Links) -> None:
    message = _compose(links, "<p>x</p>", headers={"Reply-To": "care@shop.example.com"})
    assert _parsed(message)["Reply-To"] == "care@shop.example.com"
    with pytest.raises(ValueError, match="set by compose_email"):
        _compose(links, "<p>x</p>", headers={"list-unsubscribe": "<https://evil.example/>"})


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"date": dt.datetime(2026, 11, 2, 10, 0)}, "timezone-aware"),
        ({"to": "not an address"}, "not an e-mail address"),
    ],
)
def test_bad_arguments_are_refused(links: Links, kwargs: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        _compose(links, "<p>x</p>", **kwargs)


def test_a_subject_cannot_inject_headers(links: Links) -> None:
    rendered = RenderedEmail("Hi\r\nBcc: victim@example.com", "<p>x</p>", "x")
    for compose in (compose_email, compose_outgoing):
        with pytest.raises(ValueError, match="linefeed or carriage return"):
            compose(
                rendered, key=KEY, to="ada@example.com", sender="shop@shop.example.com",
                links=links, profile_id=1, journey_id=7, step="s", date=WHEN,
            )  # fmt: skip
    # Rendering keeps subjects on one line, so a template cannot get this far.
    spec = bundled_templates()["cart-reminder"]
    assert "\n" not in render_email(spec, {"customer": {"first_name": "A\nBcc: x"}}).subject


def test_sms_links_are_tracked_too(links: Links, signer: LinkSigner) -> None:
    body = "Your cart: https://shop.example.com/cart. Or mail help@shop.example.com!"
    tracked = track_text(body, key="3:sms:1", links=links, journey_id=7, step="sms", medium="sms")
    url = re.search(r"https://\S+?(?=\. )", tracked)
    assert url is not None and url.group(0).startswith(f"{BASE}/t/c/")
    data = signer.verify("click", url.group(0).rsplit("/", 1)[1])
    assert data["u"] == (
        "https://shop.example.com/cart?utm_source=lifetide&utm_medium=sms"
        "&utm_campaign=journey-7&utm_content=sms"
    )
    assert tracked.endswith(". Or mail help@shop.example.com!")


def test_a_bundled_email_end_to_end(links: Links, signer: LinkSigner) -> None:
    template = bundled_templates()["cart-reminder"]
    built = build_outgoing(template, sample_context(), **_arguments(links, "ada@example.com"))
    parsed = email.message_from_bytes(built.data, policy=default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == "Ada, you left something in your cart"
    html_part, text_part = parsed.get_body(("html",)), parsed.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html, text = html_part.get_content(), text_part.get_content()
    for expected in ("Lumen Radiant Serum", "Qty 2", "$37.00", "Total $75.00", "P10-ABCD2345",
                     "November 5, 2026", "Lumen Night Cream", "Return to your cart"):  # fmt: skip
        assert expected in html, expected
    assert "P10-ABCD2345" in text and "Lumen Gentle Cleanser x 2: $37.00" in text
    unsubscribe = links.unsubscribe_url(KEY, 42, "email", "ada@example.com")
    assert f'href="{unsubscribe}"' in html
    assert f"Unsubscribe: {unsubscribe}" in text
    targets = {
        signer.verify("click", h.rsplit("/", 1)[1])["u"].split("?")[0]
        for h in _hrefs(html)
        if "/t/c/" in h
    }
    assert "https://shop.example.com/cart" in targets
    assert "https://shop.example.com/products/P000103" in targets


@given(
    st.one_of(
        st.text(max_size=40),
        st.builds(
            lambda user, domain: f"{user}@{domain}",
            st.text(st.characters(codec="ascii"), min_size=1, max_size=12),
            st.from_regex(r"[A-Za-z0-9.-]{1,12}", fullmatch=True),
        ),
        st.from_regex(r"[A-Za-z0-9_%+'.-]{1,12}@[A-Za-z0-9.-]{1,12}", fullmatch=True),
    )
)
@settings(max_examples=500)
@example("ann@example.com")
@example("  ann.b+tag@mail-1.example.co.uk ")
@example("Ann <ann@example.com>")
@example('"a@b" <c@d.e>')
@example("a@b@c.d")
@example("\x1f0@0")
@example("a..b@x.com")
@example(".a@x.com")
def test_split_address_reads_addresses_as_parseaddr_does(value: str) -> None:
    assert split_address(value) == parseaddr(value)


# -- how the parts go on the wire ------------------------------------------------------------

BOUNDARY = "lifetide-0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        ("Hello Ada,\nyour cart.\n", "7bit"),
        ("Hello Chloé — your cart\n", "8bit"),
        ("windows\r\nline breaks\r\n", "7bit"),
        ("é" * 499 + "\n", "8bit"),  # 998 octets: the longest line RFC 5322 allows
        ("é" * 499 + "x\n", "base64"),  # 999
        ("x" * 2000, "base64"),
        ("a lone\rcarriage return", "base64"),
        ("a \0 byte", "base64"),
        (f"looks like\n--{BOUNDARY}\na boundary", "base64"),
        (".leading dot\nFrom the start\n", "7bit"),
    ],
)
def test_text_parts_go_as_they_are_where_rfc_5322_allows(body: str, encoding: str) -> None:
    assert transfer_encoding(body.encode(), BOUNDARY) == encoding
    part = text_part("plain", body, BOUNDARY)
    assert part["Content-Transfer-Encoding"] == encoding
    raw = part.as_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert raw.isascii() == (encoding != "8bit")


def _canonical(text: str, encoding: str) -> str:
    # As it is, a part's line breaks travel as CRLF (MIME's canonical form for text) and
    # come back so; base64 brings back every byte.
    return text if encoding == "base64" else re.sub(r"\r\n|\r|\n", "\r\n", text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["", "\n", "\r\n"]))
@example("Chloé García\nline two\n", "")
@example("x" * 1200, "\n")
@example(".\n..\nFrom me\n", "")
def test_the_parts_come_back_from_the_parser_as_composed(text: str, end: str) -> None:
    text = text + end
    # Tracked links are another test's; an empty text part is drawn from the HTML.
    assume("http" not in text and text != "")
    links = Links(BASE, LinkSigner("s" * 32))
    message = _compose(links, f"<p>{text}</p>", text)
    composed = {p.get_content_type(): p for p in message.iter_parts()}
    for serialize in (lambda m: m.as_bytes(), lambda m: flatten_message(m)):
        parsed = email.message_from_bytes(serialize(message), policy=default)
        for part in parsed.iter_parts():
            own = composed[part.get_content_type()]
            encoding = str(own["Content-Transfer-Encoding"])
            assert part["Content-Transfer-Encoding"] == encoding
            assert part.get_content() == _canonical(own.get_content(), encoding)
        [plain] = [p for p in parsed.iter_parts() if p.get_content_type() == "text/plain"]
        encoding = str(composed["text/plain"]["Content-Transfer-Encoding"])
        assert plain.get_content() == _canonical(text, encoding)


# -- written straight to bytes ---------------------------------------------------------------

_HEADER_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=120
)


@settings(max_examples=300, deadline=None)
@given(
    subject=_HEADER_TEXT,
    name=st.one_of(st.just(""), _HEADER_TEXT.filter(lambda n: n.strip() == n and "@" not in n)),
    text=st.text(max_size=400),
    html=st.text(max_size=400),
    lines=st.sampled_from(["", "\n", "\r\n", "\r"]),
    long=st.booleans(),
)
@example(subject="x" * 200, name="", text="", html="<p>hi</p>", lines="", long=False)
@example(subject="Ünïcode " * 20, name="Chloé García", text="", html="", lines="\r", long=True)
@example(subject="", name='"', text="", html="", lines="", long=False)
def test_outgoing_is_what_the_email_package_writes(
    subject: str, name: str, text: str, html: str, lines: str, long: bool
) -> None:
    # The bytes compose_outgoing writes itself are outgoing_email's bytes of compose_email's
    # message: headers folded or encoded, 7bit, 8bit or base64 parts, any line breaks.
    links = Links(BASE, LinkSigner("s" * 32))
    body = f"{text}{lines}{'y' * 1000 if long else ''}{lines}https://shop.example.com/p/1"
    page = f"<p>{html}</p>{lines}<a href='https://x.example/'>x</a>"
    rendered = RenderedEmail(subject, page, body)
    to = f"{name} <ann@example.com>" if name else "ann@example.com"
    arguments = _arguments(links, to)
    try:
        expected = outgoing_email(KEY, to, compose_email(rendered, **arguments))
    except ValueError as err:  # a name the email package will not write
        with pytest.raises(ValueError, match=re.escape(str(err))):
            compose_outgoing(rendered, **arguments)
        return
    assert compose_outgoing(rendered, **arguments) == expected
    # The address as compose reads it (`"Ann" <...>` is not always what it looks like).
    unsubscribe = links.unsubscribe_url(KEY, 42, "email", split_address(to)[1])
    assert compose_outgoing(rendered, **arguments, unsubscribe=unsubscribe) == expected


def test_outgoing_with_headers_of_the_caller_s_own_drops_a_bcc(links: Links) -> None:
    arguments = {
        **_arguments(links, "ann@example.com"),
        "sender": "shop@shop.example.com",
        "headers": {"Reply-To": "help@shop.example.com", "Bcc": "audit@shop.example.com"},
    }
    rendered = RenderedEmail("Hi", "<p>Hi</p>", "Hi")
    out = compose_outgoing(rendered, **arguments)
    assert out == outgoing_email(KEY, "ann@example.com", compose_email(rendered, **arguments))
    assert b"\r\nReply-To: help@shop.example.com\r\n" in out.data
    assert b"audit@" not in out.data
    assert out.sender == "shop@shop.example.com"
    assert out.message_id == "<12.first_email.1@shop.example.com>"


def test_outgoing_needs_a_sender_address(links: Links) -> None:
    rendered = RenderedEmail("Hi", "<p>Hi</p>", "Hi")
    with pytest.raises(ValueError, match="sender 'Shop' has no e-mail address"):
        compose_outgoing(rendered, **{**_arguments(links, "ann@example.com"), "sender": "Shop"})
