from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lifetide.channels.bounces import (
    BounceReport,
    NotABounce,
    parse_dsn,
    parse_provider_event,
)

DATA = Path(__file__).parent / "data"


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


POSTFIX_DIAGNOSTIC = (
    "550 5.1.1 <ana.gone@example.com>: Recipient address rejected: "
    "User unknown in virtual mailbox table"
)
GMAIL_DIAGNOSTIC = (
    "550-5.1.1 The email account that you tried to reach does not exist. Please try "
    "550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 "
    "unnecessary spaces. For more information, go to 550 5.1.1 "
    "https://support.google.com/mail/?p=NoSuchUser 4fb4d7f45d1cf-57a3b1 - gsmtp"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "postfix_hard.eml",
            [
                BounceReport(
                    "ana.gone@example.com",
                    "hard",
                    "5.1.1",
                    POSTFIX_DIAGNOSTIC,
                    "<41.send-cart.1@lifetide.dev>",
                    "41:send-cart:1",
                )
            ],
        ),
        (
            "postfix_delayed.eml",
            [
                BounceReport(
                    "ben@slow.example.org",
                    "soft",
                    "4.4.1",
                    "connect to mx.slow.example.org[203.0.113.9]:25: Connection timed out",
                    "<7.welcome.1@lifetide.dev>",
                    "7:welcome:1",
                )
            ],
        ),
        (
            "exim_dsn.eml",
            [
                BounceReport(
                    "carla@example.net",
                    "hard",
                    "5.0.0",
                    "550 5.1.1 <carla@example.net>: Recipient address rejected: User unknown "
                    "in local recipient table",
                    "<93.winback-email.1@lifetide.dev>",
                    "93:winback-email:1",
                )
            ],
        ),
        (
            "gmail_dsn.eml",
            [
                BounceReport(
                    "does.not.exist@example.org",
                    "hard",
                    "5.1.1",
                    GMAIL_DIAGNOSTIC,
                    "<104.send.2@lifetide.dev>",
                    "104:send:2",
                )
            ],
        ),
        (
            "multi_recipient.eml",
            [
                BounceReport(
                    "full@example.com",
                    "hard",
                    "5.2.2",
                    "552 5.2.2 Mailbox full",
                    "<8.send.1@lifetide.dev>",
                    "8:send:1",
                ),
                BounceReport(
                    "later@example.com",
                    "soft",
                    "4.4.7",
                    "451 4.4.7 Delivery time expired",
                    "<8.send.1@lifetide.dev>",
                    "8:send:1",
                ),
                BounceReport(
                    "NoStatus@Example.com",
                    "hard",
                    None,
                    "67",
                    "<8.send.1@lifetide.dev>",
                    "8:send:1",
                ),
            ],
        ),
        ("delivered_only.eml", []),
        (
            "global_dsn.eml",
            [
                BounceReport(
                    "jürgen@bücher.example.de",
                    "hard",
                    "5.1.1",
                    "550 5.1.1 Mailbox unknown",
                    "<55.send.1@lifetide.dev>",
                    "55:send:1",
                )
            ],
        ),
        (
            "arf_abuse.eml",
            [
                BounceReport(
                    "erin@mailbox.example",
                    "complaint",
                    None,
                    "feedback-type: abuse",
                    "<61.send-cart.1@lifetide.dev>",
                    "61:send-cart:1",
                )
            ],
        ),
        (
            "arf_redacted.eml",
            [
                BounceReport(
                    "fay@isp.example",
                    "complaint",
                    None,
                    "feedback-type: abuse",
                    "<77.vip.1@lifetide.dev>",
                    "77:vip:1",
                )
            ],
        ),
        ("arf_not_spam.eml", []),
        (
            "exim_legacy.eml",
            [
                BounceReport(
                    "hank@old.example.net",
                    "hard",
                    "5.1.1",
                    "host mx.old.example.net [192.0.2.80]: 550 5.1.1 No such user here",
                    "<12.send-cart.1@lifetide.dev>",
                    "12:send-cart:1",
                )
            ],
        ),
        (
            "qmail.eml",
            [
                BounceReport(
                    "ivy@example.org",
                    "hard",
                    "5.0.0",
                    "Remote host said: 550 No such mailbox",
                    "<19.send.1@lifetide.dev>",
                    "19:send:1",
                ),
                BounceReport(
                    "jo@example.org",
                    "soft",
                    "4.2.2",
                    "192.0.2.7 said: 452 4.2.2 Over quota, try later",
                    "<19.send.1@lifetide.dev>",
                    "19:send:1",
                ),
            ],
        ),
    ],
)
def test_reports_are_read(name: str, expected: list[BounceReport]) -> None:
    assert parse_dsn(sample(name)) == expected


def test_line_endings_do_not_matter() -> None:
    raw = sample("postfix_hard.eml")
    assert parse_dsn(raw.replace(b"\n", b"\r\n")) == parse_dsn(raw)


def test_a_forwarded_bounce_is_read_from_inside_the_forward() -> None:
    forward = (
        b"From: ops@lifetide.dev\nTo: bounces@lifetide.dev\nSubject: Fwd: bounce\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=FWD\n\n"
        b"--FWD\nContent-Type: text/plain\n\nSee attached.\n\n"
        b"--FWD\nContent-Type: message/rfc822\n\n" + sample("exim_dsn.eml") + b"\n--FWD--\n"
    )
    [report] = parse_dsn(forward)
    assert (report.recipient, report.kind, report.send_key) == (
        "carla@example.net",
        "hard",
        "93:winback-email:1",
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        ((DATA / "out_of_office.eml").read_bytes(), "nor the sender"),
        ((DATA / "bounce_without_recipient.eml").read_bytes(), "names no failed recipient"),
        (
            b"From: x@example.com\nSubject: Mail delivery failed\n\n"
            b"RCPT TO:<a@example.com> was not accepted, no reason given\n",
            "with an SMTP status",
        ),
        (
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
            b"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n--B--\n",
            "no recipient block",
        ),
        (
            b"Content-Type: multipart/report; report-type=feedback-report; boundary=B\n\n"
            b"--B\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n\n--B--\n",
            "names no recipient",
        ),
    ],
)
def test_what_is_not_a_bounce_is_refused(raw: bytes, problem: str) -> None:
    with pytest.raises(NotABounce, match=problem):
        parse_dsn(raw)


def test_only_bytes_are_read() -> None:
    with pytest.raises(TypeError, match="as bytes, not str"):
        parse_dsn("Subject: hi")  # type: ignore[arg-type]


# Providers' JSON events


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {
                "type": "bounce",
                "recipient": "ana@example.com",
                "bounce_type": "hard",
                "status": "5.1.1",
                "diagnostic": "550 5.1.1 user unknown",
                "message_id": "<1.send.1@lifetide.dev>",
                "send_key": "1:send:1",
            },
            [
                BounceReport(
                    "ana@example.com",
                    "hard",
                    "5.1.1",
                    "550 5.1.1 user unknown",
                    "<1.send.1@lifetide.dev>",
                    "1:send:1",
                )
            ],
        ),
        (
            [
                {"event": "bounce", "email": "b@example.com", "status": "4.2.2"},
                {"event": "complaint", "email": "c@example.com", "status": "ignored"},
                {"Event": "Hard_Bounce", "Email": "d@example.com", "reason": "no such user"},
                {"type": "bounced", "address": "e@example.com", "severity": "temporary"},
                {"type": "spamreport", "to": "f@example.com", "smtp-id": "<9@x>"},
                {"type": "bounce", "recipient": " g@example.com ", "status": 550},
            ],
            [
                BounceReport("b@example.com", "soft", "4.2.2"),
                BounceReport("c@example.com", "complaint"),
                BounceReport("d@example.com", "hard", None, "no such user"),
                BounceReport("e@example.com", "soft"),
                BounceReport("f@example.com", "complaint", message_id="<9@x>"),
                BounceReport("g@example.com", "hard", "550"),
            ],
        ),
        ([], []),
        (
            b'[{"type": "complaint", "recipient": "h@example.com", "send_key": "3:s:1"}]',
            [BounceReport("h@example.com", "complaint", send_key="3:s:1")],
        ),
    ],
)
def test_provider_events_are_read(payload: Any, expected: list[BounceReport]) -> None:
    assert parse_provider_event(payload) == expected


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ("not json", "not JSON"),
        ("42", "not a number"),
        ([{"type": "bounce", "recipient": "a@x", "bounce_type": "hard"}, "x"], "event 1: expected"),
        ({"recipient": "a@x"}, "event 0: type is missing"),
        ({"type": "delivered", "recipient": "a@x"}, "event 0: type 'delivered' is not"),
        ({"type": "bounce", "bounce_type": "hard"}, "event 0: recipient is missing"),
        ({"type": "bounce", "recipient": "  ", "bounce_type": "hard"}, "recipient is missing"),
        ({"type": "bounce", "recipient": ["a@x"], "bounce_type": "hard"}, "must be text"),
        ({"type": "bounce", "recipient": "a@x"}, "event 0: bounce_type is missing"),
        ({"type": "bounce", "recipient": "a@x", "status": "2.0.0"}, "does not say"),
        ({"type": "bounce", "recipient": "a@x", "bounce_type": "medium"}, "hard or soft"),
        (
            [{"type": "complaint", "recipient": "a@x"}] * 3
            + [{"type": "bounce", "recipient": "a@x", "email": "b@x", "bounce_type": "hard"}],
            "event 3: recipient and email disagree",
        ),
        ({"type": "bounce", "recipient": "a" * 400, "bounce_type": "hard"}, "longer than 320"),
        ({"type": "bounce", "recipient": "a@x", "bounce_type": "soft", "status": True}, "text"),
    ],
)
def test_bad_provider_events_name_the_event_and_field(payload: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_provider_event(payload)
