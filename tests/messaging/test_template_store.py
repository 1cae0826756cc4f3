"""Stored templates on SQLite and PostgreSQL, and every bundled template rendering cleanly."""

from __future__ import annotations

import datetime as dt
import importlib.resources as resources
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import ManualClock
from lifetide.messaging.anchors import anchors
from lifetide.messaging.template_store import (
    TemplateNotFound,
    TemplateStore,
    bundled_templates,
    parse_email_file,
    sample_context,
)
from lifetide.messaging.templates import TemplateProblem, render_email, render_text
from lifetide.ops.models import MessageTemplate

REQUIRED = {
    "cart-reminder": "email",
    "cart-reminder-stronger": "email",
    "cart-reminder-free-shipping": "email",
    "cart-reminder-sms": "sms",
    "browse-reminder": "email",
    "replenishment-reminder": "email",
    "birthday-gift": "email",
    "winback-offer": "email",
    "welcome": "email",
    "vip-early-access": "email",
}
BUNDLED = sorted(bundled_templates())
FOOTER = {
    "unsubscribe_url": "https://lt.example.com/u/TOKEN-U",
    "preferences_url": "https://lt.example.com/u/TOKEN-P",
}


@pytest.fixture
def store(sessions: sessionmaker[Session], clock: ManualClock) -> TemplateStore:
    return TemplateStore(sessions, clock)


def test_every_required_template_is_bundled() -> None:
    bundled = bundled_templates()
    assert {name: bundled[name].channel for name in REQUIRED} == REQUIRED


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize(
    "context",
    [{}, {"customer": {}, "cart": {}, "offer": None}, sample_context()],
    ids=["empty", "empty-ish", "sample"],
)
def test_bundled_templates_render_against_any_context(name: str, context: dict[str, Any]) -> None:
    t = bundled_templates()[name]
    if t.channel == "email":
        rendered = render_email(t, {**context, **FOOTER})
        assert rendered.subject and "\n" not in rendered.subject
        assert "{{" not in rendered.html and "{%" not in rendered.html
        assert rendered.text
    else:
        text = render_text(t, context)
        assert text and "{{" not in text


@pytest.mark.parametrize("name", [n for n in BUNDLED if bundled_templates()[n].channel == "email"])
def test_bundled_emails_are_complete(name: str) -> None:
    t = bundled_templates()[name]
    assert "<style>" in t.body and "@media" in t.body
    assert 'name="viewport"' in t.body
    rendered = render_email(t, {**sample_context(), **FOOTER})
    hrefs = [v for _, _, attrs in anchors(rendered.html) for n, v in attrs if n == "href"]
    assert FOOTER["unsubscribe_url"] in hrefs and FOOTER["preferences_url"] in hrefs
    assert FOOTER["unsubscribe_url"] in rendered.text
    assert "Ada" in rendered.subject + rendered.html


def test_the_cart_reminder_shows_the_cart_the_offer_and_recommendations() -> None:
    rendered = render_email(bundled_templates()["cart-reminder"], {**sample_context(), **FOOTER})
    html = rendered.html
    for expected in (
        'src="https://shop.example.com/images/P000101.jpg"',
        "Lumen Radiant Serum",
        "Qty 1",
        "$38.00",
        "Qty 2",
        "$37.00",
        "Total $75.00",
        "P10-ABCD2345",
        "10% off with your code",
        "Valid until November 5, 2026",
        'href="https://shop.example.com/cart"',
        "Return to your cart",
        "You might also like",
        "Lumen Night Cream",
        "$42.00",
    ):
        assert expected in html, expected
    without_offer = render_email(
        bundled_templates()["cart-reminder"], {**sample_context(), "offer": None, **FOOTER}
    )
    assert "with your code" not in without_offer.html


def test_the_stronger_and_free_shipping_reminders_carry_their_offers() -> None:
    offer = {**sample_context()["offer"], "value": 15.0, "description": "15% off", "code": "P15-X"}
    stronger = render_email(
        bundled_templates()["cart-reminder-stronger"], {**sample_context(), "offer": offer}
    )
    assert stronger.subject == "15% off the things you picked out"
    assert "P15-X" in stronger.html
    free = {**offer, "kind": "free_shipping", "description": "free shipping", "code": "FREESHIP-Y"}
    shipping = render_email(
        bundled_templates()["cart-reminder-free-shipping"], {**sample_context(), "offer": free}
    )
    assert "Free shipping with your code" in shipping.html and "FREESHIP-Y" in shipping.html


def test_the_sms_is_short_and_carries_the_code() -> None:
    text = render_text(bundled_templates()["cart-reminder-sms"], sample_context())
    assert text == (
        "Lifetide Demo Shop: Ada, your cart is waiting. 10% off with code P10-ABCD2345 until "
        "Nov 05. https://shop.example.com/cart Reply STOP to opt out."
    )
    assert len(text) <= 160


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("<html></html>", "needs header lines, a blank line"),
        ("Subject: x\nFrom: y\n\n<p>", "unknown headers from"),
        ("Not a header\n\n<p>", "line 1: expected 'Name: value'"),
        ("Subject:\n\n<p>", "the Subject header is missing"),
    ],
)
def test_bad_bundled_files_are_explained(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_email_file(text, "x.email.html")
    assert parse_email_file("Subject: Hi {{ x }}\n\n<p>body</p>\n", "x") == (
        "Hi {{ x }}",
        "<p>body</p>\n",
    )


def test_ensure_bundled_inserts_what_is_missing_and_never_overwrites(
    store: TemplateStore, clock: ManualClock
) -> None:
    assert store.ensure_bundled() == BUNDLED
    assert store.ensure_bundled() == []
    row = store.get("cart-reminder")
    assert (row.channel, row.version) == ("email", 1)
    assert row.subject == bundled_templates()["cart-reminder"].subject
    edited = store.save("cart-reminder", "email", "Mine", "<p>{{ customer.first_name }}</p>")
    assert edited.version == 2
    store.delete("welcome")
    clock.advance(dt.timedelta(minutes=1))
    assert store.ensure_bundled() == ["welcome"]
    assert store.get("cart-reminder").subject == "Mine"
    restored = store.restore_bundled("cart-reminder")
    assert restored.version == 3
    assert restored.body == bundled_templates()["cart-reminder"].body
    with pytest.raises(TemplateNotFound):
        store.restore_bundled("not-bundled")


def test_save_versions_only_real_changes(store: TemplateStore, clock: ManualClock) -> None:
    first = store.save("promo", "email", "Hi", "<p>one</p>", "one")
    assert (first.version, first.text_body) == (1, "one")
    clock.advance(dt.timedelta(hours=1))
    same = store.save("promo", "email", "Hi", "<p>one</p>", "one")
    assert same.version == 1
    changed = store.save("promo", "email", "Hi", "<p>two</p>", "")
    assert (changed.version, changed.body, changed.text_body) == (2, "<p>two</p>", None)
    stored = store.get("promo")
    assert stored.version == 2
    assert stored.updated_at.replace(tzinfo=dt.UTC) > stored.created_at.replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("name", "channel", "subject", "body", "field", "line"),
    [
        ("bad name!", "email", "s", "<p>x</p>", "name", None),
        ("ok", "carrier-pigeon", "s", "<p>x</p>", "channel", None),
        ("ok", "email", "", "<p>x</p>", "subject", None),
        ("ok", "email", "s", "<p>\n{{ x ~ }}</p>", "body", 2),
        ("ok", "sms", None, "{{ ''.__class__ }}", "body", 1),
        # css_inline cannot read the paragraph's own style to merge the rule into it.
        ("ok", "email", "s", '<style>p {color: red}</style><p style="s">x</p>', "body", None),
    ],
)
def test_bad_templates_are_refused_and_nothing_is_stored(
    store: TemplateStore,
    sessions: sessionmaker[Session],
    name: str,
    channel: str,
    subject: str | None,
    body: str,
    field: str,
    line: int | None,
) -> None:
    with pytest.raises(TemplateProblem) as caught:
        store.save(name, channel, subject, body)
    assert (caught.value.field, caught.value.line) == (field, line)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(MessageTemplate)) == 0


def test_get_list_get_many_and_delete(store: TemplateStore) -> None:
    with pytest.raises(TemplateNotFound, match="no template named 'nope'"):
        store.get("nope")
    store.save("b-sms", "sms", None, "Hi {{ customer.first_name }}")
    store.save("a-mail", "email", "Hi", "<p>x</p>")
    assert [t.name for t in store.list()] == ["a-mail", "b-sms"]
    assert sorted(store.get_many(["a-mail", "missing", "b-sms", "a-mail"])) == ["a-mail", "b-sms"]
    assert store.get_many([]) == {}
    store.delete("a-mail")
    with pytest.raises(TemplateNotFound):
        store.delete("a-mail")
    assert [t.name for t in store.list()] == ["b-sms"]


def test_every_bundled_email_is_a_whole_page_in_the_shared_layout() -> None:
    layout = (
        resources.files("lifetide.messaging") / "bundled_templates" / "_layout.html"
    ).read_text(encoding="utf-8")
    head, _, rest = layout.partition("{# about #}\n")
    _, _, tail = rest.partition("{# content #}\n")
    emails = [t for t in bundled_templates().values() if t.channel == "email"]
    assert len(emails) == 9
    for template in emails:
        assert template.body.startswith(head), template.name
        assert template.body.endswith(tail), template.name
        assert "{{ unsubscribe_url }}" in template.body
        assert "{# about #}" not in template.body and "{# content #}" not in template.body
