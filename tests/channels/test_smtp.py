from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email
import json
import re
import signal
import time
from collections.abc import Callable
from email.policy import default
from pathlib import Path
from urllib.parse import quote

import pytest
from aiosmtplib.email import quote_address
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lifetide.channels.event_loop import new_event_loop
from lifetide.channels.messages import (
    BARE_ADDRESS,
    DeliveryResult,
    OutgoingEmail,
    outgoing_email,
    seven_bit,
)
from lifetide.channels.smtp import SmtpTransport, _mailbox
from lifetide.channels.smtp_url import SmtpServer as ServerAddress
from lifetide.channels.smtp_url import SmtpUrlError, parse_smtp_url
from lifetide.messaging.compose import compose_email
from lifetide.messaging.links import Links
from lifetide.messaging.templates import RenderedEmail
from lifetide.messaging.tokens import LinkSigner
from tests.channels.conftest import (
    PASSWORD,
    USER,
    Certificates,
    Handler,
    SmtpServer,
    check_login,
    free_port,
    make_email,
    make_message,
)
from tests.sink import start_sink

Start = Callable[..., SmtpServer]


def send(transport: SmtpTransport, batch: list[OutgoingEmail]) -> list[DeliveryResult]:
    """Send one batch and close the transport, on the dispatcher's kind of event loop."""

    async def run() -> list[DeliveryResult]:
        try:
            return await transport.send(batch)
        finally:
            await transport.close()

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(run())


def batch(count: int, prefix: str = "c") -> list[OutgoingEmail]:
    return [make_email(f"{i}:send:1", f"{prefix}{i}@example.com") for i in range(count)]


# Reading the url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mx.example.com", ServerAddress("mx.example.com", 25)),
        (
            "smtps://mx.example.com",
            ServerAddress("mx.example.com", 465, implicit_tls=True, starttls="off"),
        ),
        ("smtp://mx.example.com:587", ServerAddress("mx.example.com", 587)),
        (
            "smtp://me%40shop.example:p%40ss%2Fw%3Ard@mx.example.com:2525",
            ServerAddress("mx.example.com", 2525, username="me@shop.example", password="p@ss/w:rd"),
        ),
        ("smtp://[::1]:25", ServerAddress("::1", 25)),
        (
            "smtp://mx.example.com?starttls=require&tls_verify=false&ca_file=/etc/ca.pem",
            ServerAddress(
                "mx.example.com", 25, starttls="require", tls_verify=False, ca_file="/etc/ca.pem"
            ),
        ),
        (
            "SMTP://mx.example.com/?starttls=off",
            ServerAddress("mx.example.com", 25, starttls="off"),
        ),
    ],
)
def test_urls_are_read(url: str, expected: ServerAddress) -> None:
    server = parse_smtp_url(url)
    assert server == expected
    assert server.password == expected.password


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://u:hunter2@mx.example.com", "must start with smtp:// or smtps://"),
        ("smtp://", "has no host"),
        ("smtp://u:hunter2@mx.example.com:99999", "port that is not a number"),
        ("smtp://u:hunter2@mx.example.com:abc", "port that is not a number"),
        ("smtp://u:hunter2@mx.example.com/mail", "has a path"),
        ("smtp://u:hunter2@mx.example.com?tls=yes", "unknown option 'tls'"),
        ("smtp://u:hunter2@mx.example.com?starttls=maybe", "starttls must be auto"),
        ("smtps://u:hunter2@mx.example.com?starttls=require", "TLS from the start"),
        ("smtp://u:hunter2@mx.example.com?tls_verify=perhaps", "tls_verify must be"),
        ("smtp://u:hunter2@mx.example.com?starttls=off&starttls=auto", "given twice"),
        ("smtp://u:hunt/er2@mx.example.com", "percent-encode '/', '?' and '#'"),
        ("smtp://u:hunt?er2@mx.example.com", "percent-encode '/', '?' and '#'"),
    ],
)
def test_bad_urls_say_what_is_wrong_without_the_password(url: str, problem: str) -> None:
    with pytest.raises(SmtpUrlError, match=re.escape(problem)) as raised:
        parse_smtp_url(url)
    assert "hunter2" not in str(raised.value)
    assert "er2" not in str(raised.value)


def test_transport_repr_hides_the_password() -> None:
    transport = SmtpTransport(f"smtp://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:2525")
    assert PASSWORD not in repr(transport)
    assert "mailer:***@127.0.0.1:2525" in repr(transport)


# Sending


def test_messages_are_sent_with_their_message_id(smtp_server: Start) -> None:
    server = smtp_server()
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=2)
    items = batch(5)
    results = send(transport, items)
    assert [r.key for r in results] == [i.key for i in items]
    assert [r.outcome for r in results] == ["sent"] * 5
    assert [r.provider_message_id for r in results] == [
        f"<{i}.send.1@lifetide.dev>" for i in range(5)
    ]
    assert all(r.code == 250 for r in results)
    assert sorted(server.handler.keys()) == sorted(i.key for i in items)
    by_key = dict(zip(server.handler.keys(), server.handler.accepted, strict=True))
    assert by_key["3:send:1"].rcpt == ["c3@example.com"]
    assert by_key["3:send:1"].mail_from == "shop@lifetide.dev"
    assert b"this is message <b>3:send:1</b>" in by_key["3:send:1"].content


@pytest.mark.parametrize("ending", [b"\r\n", b"\n"])
def test_lines_that_start_with_a_dot_arrive_as_they_were(smtp_server: Start, ending: bytes) -> None:
    # CRLF lines take the client's fast path (dot-stuffed here); bare LF goes through
    # aiosmtplib's sendmail, which normalises: the server sees the same message either way.
    server = smtp_server()
    lines = [b"From: shop@lifetide.dev", b"Subject: dots", b"", b".", b".leading", b"end."]
    item = OutgoingEmail("1:s:1", "a@example.com", "shop@lifetide.dev", None, b"")
    item = dataclasses.replace(item, data=ending.join(lines) + ending)
    results = send(SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=1), [item])
    assert results[0].outcome == "sent"
    content = server.handler.accepted[0].content.replace(b"\r\n", b"\n")
    assert content.endswith(b"\n.\n.leading\nend.\n")


def test_a_refused_recipient_bounces_and_the_rest_go(smtp_server: Start) -> None:
    server = smtp_server(Handler(reject=re.compile(r"^gone")))
    items = [*batch(3), make_email("9:send:1", "gone@example.com"), *batch(2, prefix="d")]
    results = send(SmtpTransport(f"smtp://127.0.0.1:{server.port}"), items)
    assert [r.outcome for r in results] == ["sent", "sent", "sent", "bounced", "sent", "sent"]
    bounced = results[3]
    assert bounced.key == "9:send:1"
    assert bounced.code == 550
    assert "User unknown" in (bounced.detail or "")
    assert bounced.provider_message_id is None
    assert len(server.handler.accepted) == 5


def test_a_refusal_at_data_bounces(smtp_server: Start) -> None:
    handler = Handler(data_reply={"spam@example.com": "554 5.7.1 Message rejected as spam"})
    server = smtp_server(handler)
    items = [make_email("1:s:1", "spam@example.com"), make_email("2:s:1", "ok@example.com")]
    results = send(SmtpTransport(f"smtp://127.0.0.1:{server.port}"), items)
    assert (results[0].outcome, results[0].code) == ("bounced", 554)
    assert "rejected as spam" in (results[0].detail or "")
    assert results[1].outcome == "sent"


def test_a_refused_sender_fails_without_bouncing(smtp_server: Start) -> None:
    server = smtp_server(Handler(refuse_sender="nobody@lifetide.dev"))
    items = [make_email("1:s:1", "a@example.com", sender="nobody@lifetide.dev")]
    results = send(SmtpTransport(f"smtp://127.0.0.1:{server.port}"), items)
    assert (results[0].outcome, results[0].code) == ("failed", 553)
    assert "sender refused" in (results[0].detail or "")


def test_a_message_that_cannot_be_sent_fails_alone(smtp_server: Start) -> None:
    server = smtp_server()
    # A space in an envelope address could smuggle parameters into the RCPT command.
    broken = dataclasses.replace(make_email("1:s:1", "a@example.com"), to="a b@example.com")
    results = send(
        SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=1),
        [broken, make_email("2:s:1", "b@example.com")],
    )
    assert results[0].outcome == "failed"
    assert "cannot send" in (results[0].detail or "")
    assert results[1].outcome == "sent"


@settings(max_examples=300)
@given(st.one_of(st.from_regex(BARE_ADDRESS, fullmatch=True), st.text(max_size=40)))
@example("ann@example.com")
@example("Ann <ann@example.com>")
@example("a b@example.com")
@example("a@example.com> NOTIFY=NEVER")
def test_envelope_addresses_are_written_as_aiosmtplib_quotes_them(address: str) -> None:
    # A bare address is written without parsing: the same bytes quote_address makes.
    try:
        expected = quote_address(address).encode("utf-8")
    except ValueError as err:
        with pytest.raises(ValueError, match=re.escape(str(err))):
            _mailbox(address, "utf-8")
        return
    assert _mailbox(address, "utf-8") == expected


@pytest.mark.parametrize("utf8", [True, False])
def test_an_international_address_goes_where_the_server_speaks_smtputf8(
    smtp_server: Start, utf8: bool
) -> None:
    server = smtp_server(enable_SMTPUTF8=utf8)
    items = [make_email("1:s:1", "josé@example.com"), make_email("2:s:1", "b@example.com")]
    results = send(SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=1), items)
    if utf8:
        assert results[0].outcome == "sent"
        assert server.handler.accepted[0].rcpt == ["josé@example.com"]
    else:
        assert results[0].outcome == "failed"
        assert "SMTPUTF8" in (results[0].detail or "")
    assert results[1].outcome == "sent"


def _eight_bit_email(key: str, to: str) -> OutgoingEmail:
    """A composed e-mail whose text and HTML parts go as they are, in UTF-8 (8bit)."""
    links = Links("https://lifetide.example.com", LinkSigner("k" * 32))
    rendered = RenderedEmail("Hé", "<p>Chloé, your cart</p>\n", "Chloé, your cart\n")
    message = compose_email(
        rendered, key=key, to=to, sender="Shop <shop@lifetide.dev>", links=links,
        profile_id=1, journey_id=7, step="s", date=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
    )  # fmt: skip
    return outgoing_email(key, to, message)


@pytest.mark.parametrize("eight_bit_mime", [True, False])
def test_8bit_parts_go_as_they_are_only_where_the_server_offers_8bitmime(
    smtp_server: Start, eight_bit_mime: bool
) -> None:
    # aiosmtpd offers 8BITMIME unless it decodes the data itself.
    server = smtp_server(decode_data=not eight_bit_mime)
    item = _eight_bit_email("1:s:1", "a@example.com")
    assert b"Content-Transfer-Encoding: 8bit" in item.data
    results = send(SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=1), [item])
    assert results[0].outcome == "sent"
    [accepted] = server.handler.accepted
    if eight_bit_mime:
        assert "BODY=8BITMIME" in accepted.options
        assert accepted.content == item.data
    else:
        # Re-encoded: only ASCII goes to a server that did not offer 8BITMIME.
        assert not any(o.upper().startswith("BODY=") for o in accepted.options)
        assert accepted.content.isascii()
        assert b"Content-Transfer-Encoding: base64" in accepted.content
        head = item.data.split(b"\r\n\r\n", 1)[0]
        assert accepted.content.startswith(head)
    parsed = email.message_from_bytes(accepted.content, policy=default)
    assert parsed["X-Lifetide-Send"] == "1:s:1"
    text, html = (parsed.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == "Chloé, your cart\n"
    assert "<body><p>Chloé, your cart</p>\n<img" in html.get_content().replace("\r\n", "\n")


def test_an_ascii_message_is_never_reencoded() -> None:
    item = make_email("1:s:1", "a@example.com")
    assert seven_bit(item.data) is item.data


def test_a_message_without_a_sender_cannot_be_made_ready() -> None:
    message = make_message("1:s:1", "a@example.com")
    del message["From"]
    with pytest.raises(ValueError, match="From"):
        outgoing_email("1:s:1", "a@example.com", message)


def test_a_greylisted_recipient_is_sent_on_the_second_try(smtp_server: Start) -> None:
    server = smtp_server(Handler(defer={"grey@example.com": 1}))
    items = [make_email("1:s:1", "grey@example.com"), *batch(3)]
    results = send(SmtpTransport(f"smtp://127.0.0.1:{server.port}", backoff=0.01), items)
    assert [r.outcome for r in results] == ["sent"] * 4
    assert server.handler.rcpt_attempts["grey@example.com"] == 2
    assert server.handler.keys().count("1:s:1") == 1


def test_a_recipient_deferred_for_good_is_left_to_retry(smtp_server: Start) -> None:
    server = smtp_server(Handler(defer={"full@example.com": -1}))
    items = [make_email("1:s:1", "full@example.com"), make_email("2:s:1", "ok@example.com")]
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", retries=2, backoff=0.01)
    results = send(transport, items)
    assert (results[0].outcome, results[0].code) == ("retry", 451)
    assert "greylisted" in (results[0].detail or "")
    assert "after 3 attempts" in (results[0].detail or "")
    assert server.handler.rcpt_attempts["full@example.com"] == 3
    assert results[1].outcome == "sent"


def test_a_dropped_connection_is_reopened_and_each_message_goes_once(smtp_server: Start) -> None:
    server = smtp_server(Handler(drop_on_mail={4, 9, 10, 17}))
    items = batch(30)
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=3, backoff=0.01)
    results = send(transport, items)
    assert [r.outcome for r in results] == ["sent"] * 30
    assert sorted(server.handler.keys()) == sorted(i.key for i in items)
    # Three to start with, and one more for each connection the server dropped.
    assert server.connections == 3 + 4


def test_a_connection_lost_every_time_is_left_to_retry(smtp_server: Start) -> None:
    server = smtp_server(Handler(drop_on_mail=set(range(1, 100))))
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", retries=2, backoff=0.01)
    results = send(transport, batch(2))
    assert [r.outcome for r in results] == ["retry", "retry"]
    assert "connection lost" in (results[0].detail or "")
    assert "gave up after 3 attempts" in (results[0].detail or "")
    assert server.handler.mails == 6
    assert server.handler.accepted == []


def test_connections_are_reused_across_messages_and_batches(smtp_server: Start) -> None:
    server = smtp_server()
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=4)

    async def run() -> list[list[DeliveryResult]]:
        try:
            first = await transport.send(batch(200))
            second = await transport.send(batch(50, prefix="again"))
            return [first, second]
        finally:
            await transport.close()

    first, second = asyncio.run(run())
    assert all(r.outcome == "sent" for r in first + second)
    assert len(server.handler.accepted) == 250
    assert server.connections == 4
    # The batch was spread over the whole pool.
    assert len({a.connection for a in server.handler.accepted}) == 4
    assert server.handler.quits == 4


def test_connections_the_server_closed_meanwhile_are_reopened(smtp_server: Start) -> None:
    server = smtp_server(timeout=0.2)  # aiosmtpd closes connections idle this long
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=2, retries=0)

    async def run() -> list[DeliveryResult]:
        try:
            first = await transport.send(batch(4))
            await asyncio.sleep(0.5)
            return first + await transport.send(batch(4, prefix="later"))
        finally:
            await transport.close()

    results = asyncio.run(run())
    # Without a retry to spare, a stale connection would have cost a message.
    assert [r.outcome for r in results] == ["sent"] * 8
    assert server.connections == 4


def test_concurrent_batches_share_the_pool(smtp_server: Start) -> None:
    server = smtp_server()
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", connections=2)

    async def run() -> list[list[DeliveryResult]]:
        try:
            return list(
                await asyncio.gather(transport.send(batch(20, "a")), transport.send(batch(20, "b")))
            )
        finally:
            await transport.close()

    results = asyncio.run(run())
    assert [r.outcome for r in results[0] + results[1]] == ["sent"] * 40
    assert server.connections == 2


def test_an_unreachable_server_leaves_the_batch_to_retry() -> None:
    transport = SmtpTransport(f"smtp://127.0.0.1:{free_port()}", retries=1, backoff=0.01)
    results = send(transport, batch(20))
    assert [r.outcome for r in results] == ["retry"] * 20
    assert "cannot reach smtp://127.0.0.1" in (results[0].detail or "")


# TLS and authentication


def test_starttls_when_offered_with_a_trusted_ca(smtp_server: Start, certs: Certificates) -> None:
    server = smtp_server(tls_context=certs.server_context())
    url = f"smtp://127.0.0.1:{server.port}?ca_file={certs.ca_file}"
    results = send(SmtpTransport(url), batch(3))
    assert [r.outcome for r in results] == ["sent"] * 3
    assert all(a.tls for a in server.handler.accepted)


def test_an_untrusted_certificate_is_refused(smtp_server: Start, certs: Certificates) -> None:
    server = smtp_server(tls_context=certs.server_context())
    results = send(SmtpTransport(f"smtp://127.0.0.1:{server.port}", retries=0), batch(2))
    assert [r.outcome for r in results] == ["retry", "retry"]
    assert "TLS with smtp://127.0.0.1" in (results[0].detail or "")
    assert "CERTIFICATE_VERIFY_FAILED" in (results[0].detail or "")
    assert server.handler.accepted == []


def test_tls_verify_false_accepts_any_certificate(smtp_server: Start, certs: Certificates) -> None:
    server = smtp_server(tls_context=certs.server_context())
    results = send(SmtpTransport(f"smtp://127.0.0.1:{server.port}?tls_verify=false"), batch(2))
    assert [r.outcome for r in results] == ["sent", "sent"]
    assert all(a.tls for a in server.handler.accepted)


def test_required_starttls_that_is_not_offered(smtp_server: Start) -> None:
    server = smtp_server()
    url = f"smtp://127.0.0.1:{server.port}?starttls=require"
    results = send(SmtpTransport(url, retries=0), batch(2))
    assert [r.outcome for r in results] == ["retry", "retry"]
    assert "does not offer STARTTLS, which the url requires" in (results[0].detail or "")
    assert server.handler.accepted == []


def test_implicit_tls(smtp_server: Start, certs: Certificates) -> None:
    server = smtp_server(ssl_context=certs.server_context())
    url = f"smtps://127.0.0.1:{server.port}?ca_file={certs.ca_file}"
    results = send(SmtpTransport(url), batch(2))
    assert [r.outcome for r in results] == ["sent", "sent"]
    assert all(a.tls for a in server.handler.accepted)


def _auth_url(port: int, password: str, options: str) -> str:
    return f"smtp://{USER}:{quote(password, safe='')}@127.0.0.1:{port}?{options}"


def test_auth_after_starttls(smtp_server: Start, certs: Certificates) -> None:
    server = smtp_server(
        tls_context=certs.server_context(), authenticator=check_login, auth_required=True
    )
    url = _auth_url(server.port, PASSWORD, f"ca_file={certs.ca_file}")
    results = send(SmtpTransport(url, connections=2), batch(4))
    assert [r.outcome for r in results] == ["sent"] * 4
    assert [(a.tls, a.login) for a in server.handler.accepted] == [(True, USER)] * 4


def test_wrong_credentials_leave_the_batch_to_retry(
    smtp_server: Start, certs: Certificates
) -> None:
    server = smtp_server(
        tls_context=certs.server_context(), authenticator=check_login, auth_required=True
    )
    url = _auth_url(server.port, "wrong", f"ca_file={certs.ca_file}")
    results = send(SmtpTransport(url), batch(3))
    assert [r.outcome for r in results] == ["retry"] * 3
    assert "refused the credentials: 535" in (results[0].detail or "")
    assert server.handler.accepted == []


def test_the_password_is_not_sent_in_the_clear(smtp_server: Start) -> None:
    server = smtp_server(authenticator=check_login, auth_require_tls=False)
    results = send(SmtpTransport(_auth_url(server.port, PASSWORD, "starttls=auto")), batch(1))
    assert results[0].outcome == "retry"
    assert "refusing to send the password unencrypted" in (results[0].detail or "")
    assert server.handler.accepted == []


def test_auth_in_the_clear_when_the_url_turns_tls_off(smtp_server: Start) -> None:
    server = smtp_server(authenticator=check_login, auth_require_tls=False)
    results = send(SmtpTransport(_auth_url(server.port, PASSWORD, "starttls=off")), batch(2))
    assert [r.outcome for r in results] == ["sent", "sent"]
    assert [(a.tls, a.login) for a in server.handler.accepted] == [(False, USER)] * 2


@pytest.fixture
def certs(certificates: Certificates) -> Certificates:
    return certificates


# The benchmark's sink, as its own process


def test_the_sink_records_each_message_and_refuses_by_pattern(tmp_path: Path) -> None:
    out = tmp_path / "sink.jsonl"
    sink, port = start_sink(
        out, "--reject-pattern", r"^gone", "--defer-pattern", r"^grey", "--defer-times", "1"
    )
    try:
        items = [*batch(20), make_email("g:s:1", "gone@x.example"), make_email("r:s:1", "grey@x")]
        transport = SmtpTransport(f"smtp://127.0.0.1:{port}", backoff=0.01)
        results = send(transport, items)
        lines = [json.loads(line) for line in out.read_text().splitlines()]
    finally:
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(10) == 0
    assert [r.outcome for r in results] == ["sent"] * 20 + ["bounced", "sent"]
    assert results[20].code == 550
    assert sorted(line["x_lifetide_send"] for line in lines) == sorted(
        [*(i.key for i in items[:20]), "r:s:1"]
    )
    first = next(line for line in lines if line["x_lifetide_send"] == "0:send:1")
    assert first["message_id"] == "<0.send.1@lifetide.dev>"
    assert first["rcpt"] == ["c0@example.com"]
    assert first["size"] > 300
    assert abs(first["at"] - time.time()) < 60


def test_the_sink_can_take_its_time_to_answer_data(tmp_path: Path) -> None:
    out = tmp_path / "sink.jsonl"
    sink, port = start_sink(out, "--data-delay", "0.1")
    try:
        started = time.monotonic()
        results = send(SmtpTransport(f"smtp://127.0.0.1:{port}", connections=1), batch(3))
        took = time.monotonic() - started
    finally:
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(10) == 0
    assert [r.outcome for r in results] == ["sent"] * 3
    assert took >= 0.3  # one connection: three answers, each 0.1 s late
