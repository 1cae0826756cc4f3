"""Cart abandonment end to end, with a real SMTP server and a real SMS provider on loopback.

Tracking-API events go in through the HTTP API; the clock is moved by hand; the worker's own
tasks (loader, journey intake, steps, dispatcher) run until idle; mail arrives over SMTP. The
basic flow (e-mail with the cart, recommendations and a code; tracked click; the order ends the
journey and is credited to the message) and each alternate flow: ignored e-mail and stronger
follow-ups; hard bounce and the SMS fallback; one-click unsubscribe and nothing more.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.experiments.holdouts import GLOBAL, HELD_OUT, TREATED, Holdout, journey_key
from lifetide.journeys.engine import JourneyEngine
from lifetide.journeys.files import bundled_journeys
from lifetide.journeys.store import JourneyStore
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.models import (
    Consent,
    Exposure,
    Identity,
    JourneyInstance,
    JourneySend,
    PromoCode,
    Suppression,
)
from lifetide.settings import load_settings
from lifetide.web.app import create_app
from tests.journeys.conftest import Mailbox, SmsProvider

T0 = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)  # mid-afternoon UTC: no quiet hours


class Shop:
    """A running Lifetide with the cart journey live, a write key, and a test client."""

    def __init__(self, app: Lifetide, client: TestClient, write_key: str, clock: ManualClock):
        self.app, self.client, self.clock = app, client, clock
        self.auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        self.engine = JourneyEngine(app, "test-worker")
        self._n = 0

    def track(self, *messages: dict[str, Any]) -> None:
        """Send messages through the tracking API, as a shop's site would."""
        batch = []
        for m in messages:
            self._n += 1
            batch.append(
                {"messageId": f"msg-{self._n}", "timestamp": self.clock.now().isoformat(), **m}
            )
        reply = self.client.post(
            "/v1/batch", json={"batch": batch}, headers={"Authorization": self.auth}
        )
        assert reply.status_code == 200, reply.text

    def settle(self) -> None:
        """Run the worker's tasks until none has anything left to do."""
        loader = self.app.loader()  # as the worker makes it: live identity, recent activity
        for _ in range(50):
            loaded = loader.load_all()
            done = self.engine.run_until_idle()
            if not loaded and not done:
                return
        raise AssertionError("the worker never became idle")

    def later(self, **delta: float) -> None:
        """Move the clock on and let the worker catch up."""
        self.clock.advance(dt.timedelta(**delta))
        self.settle()

    def profile(self, user_id: str) -> int:
        with self.app.sessions() as session:
            found = session.scalar(select(Identity.customer_id).where(Identity.value == user_id))
            assert found is not None
            return int(found)

    def sends(self, profile_id: int) -> list[JourneySend]:
        with self.app.sessions() as session:
            query = select(JourneySend).where(JourneySend.profile_id == profile_id)
            return list(session.scalars(query.order_by(JourneySend.id)))

    def instance(self, profile_id: int) -> JourneyInstance:
        with self.app.sessions() as session:
            found = session.scalar(
                select(JourneyInstance).where(JourneyInstance.profile_id == profile_id)
            )
            assert found is not None
            return found


@pytest.fixture
def shop(
    request: pytest.FixtureRequest,
    tmp_path: Any,
    mailbox: tuple[Mailbox, int],
    sms_provider: tuple[SmsProvider, str],
) -> Iterator[Shop]:
    """The shop; parametrized indirectly with (global holdout %, cart journey holdout %)."""
    _, port = mailbox
    _, sms_url = sms_provider
    everyone, journey = getattr(request, "param", (0.0, 0.0))
    settings = load_settings(
        global_holdout_percent=everyone,
        data_dir=tmp_path / "data",
        env="test",
        smtp_url=f"smtp://127.0.0.1:{port}",
        sms_webhook_url=sms_url,
        allow_private_destinations=True,
        base_url="http://shop.test",
    )
    clock = ManualClock(T0)
    with Lifetide(settings, clock=clock) as app:
        _catalog(app)
        TemplateStore(app.sessions, clock).ensure_bundled()
        store = JourneyStore(app.sessions, clock)
        cart = bundled_journeys()["cart_abandonment"].model_copy(update={"holdout": journey})
        store.set_status(store.create(cart.name, cart, None).id, "live")
        key = app.sources.create("web").write_key
        with TestClient(create_app(app), base_url="http://shop.test") as client:
            shop = Shop(app, client, key, clock)
            yield shop
            shop.engine.close()


def _catalog(app: Lifetide) -> None:
    app.warehouse.duckdb.execute(
        "INSERT INTO products (product_id, name, category, brand, price, price_tier, "
        "replenishable, image_url, url) VALUES "
        "('p1', 'Hydrating Serum', 'skincare', 'Lumen', 32.00, 'mid', true, "
        "'https://img.shop.test/p1.jpg', 'https://shop.test/p/p1'), "
        "('p2', 'Vitamin C Cream', 'skincare', 'Lumen', 45.00, 'prestige', false, "
        "'https://img.shop.test/p2.jpg', 'https://shop.test/p/p2')"
    )


def _recommend(app: Lifetide, profile_id: int, product_id: str) -> None:
    app.warehouse.duckdb.execute(
        "CREATE OR REPLACE TABLE recommendations AS "
        f"SELECT {profile_id}::BIGINT AS profile_id, 1::INTEGER AS rank, "
        f"'{product_id}' AS product_id, 0.9::DOUBLE AS score"
    )


def _customer(shop: Shop, user: str, email: str, **traits: Any) -> int:
    shop.track(
        {
            "type": "identify",
            "userId": user,
            "traits": {"email": email, "first_name": "Ann", "email_opt_in": True, **traits},
        }
    )
    shop.settle()
    return shop.profile(user)


def _leave_cart(shop: Shop, user: str, cart: str) -> None:
    shop.track(
        {
            "type": "track",
            "userId": user,
            "event": "Product Viewed",
            "properties": {"product_id": "p1"},
        },
        {
            "type": "track",
            "userId": user,
            "event": "Product Added",
            "properties": {"cart_id": cart, "product_id": "p1", "price": 32.0, "quantity": 1},
        },
    )
    shop.settle()


def _html(message: Any) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def _code(html: str) -> str:
    found = re.search(r"\b([A-Z0-9]+-[A-Z2-9]{6,})\b", html)
    assert found is not None, "no promo code in the e-mail"
    return found.group(1)


def test_the_cart_email_arrives_an_hour_later_the_click_is_tracked_and_the_order_is_credited(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    ann = _customer(shop, "u1", "ann@shop.test")
    _recommend(shop.app, ann, "p2")
    _leave_cart(shop, "u1", "c1")
    shop.later(minutes=59)
    assert box.to("ann@shop.test") == []
    shop.later(minutes=1)
    (mail,) = box.to("ann@shop.test")
    html = _html(mail)
    assert "Hydrating Serum" in html and "Vitamin C Cream" in html  # the cart; a recommendation
    code = _code(html)
    (send,) = shop.sends(ann)
    assert send.status == "sent" and send.promo_code == code
    with shop.app.sessions() as session:
        issued = session.scalar(select(PromoCode).where(PromoCode.code == code))
        assert issued is not None and issued.send_key == send.idempotency_key
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "http://shop.test/u/" in mail["List-Unsubscribe"]

    # She clicks the cart's link: tracked, then sent on with UTM tags.
    tracked = re.findall(r'href="(http://shop\.test/t/c/[^"]+)"', html)
    assert tracked
    reply = shop.client.get(urlsplit(tracked[0]).path, follow_redirects=False)
    assert reply.status_code in (302, 303, 307)
    assert parse_qs(urlsplit(reply.headers["location"]).query)["utm_source"] == ["lifetide"]
    shop.settle()
    (send,) = shop.sends(ann)
    assert send.clicked_at is not None

    # She buys the cart: the journey ends at its goal and the order is credited to the e-mail.
    shop.later(minutes=10)
    shop.track(
        {
            "type": "track",
            "userId": "u1",
            "event": "Order Completed",
            "properties": {"cart_id": "c1", "order_id": "o-1", "revenue": 42.5, "coupon": code},
        }
    )
    shop.settle()
    instance = shop.instance(ann)
    assert (instance.status, instance.outcome) == ("done", "goal")
    (send,) = shop.sends(ann)
    assert (send.order_id, send.revenue) == ("o-1", 42.5)
    with shop.app.sessions() as session:
        used = session.scalar(select(PromoCode).where(PromoCode.code == code))
        assert used is not None and used.order_id == "o-1" and used.redeemed_at is not None
    shop.later(days=3)
    assert len(box.to("ann@shop.test")) == 1  # no follow-up after the purchase


def test_an_ignored_email_is_followed_by_a_stronger_offer_then_free_shipping(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    ann = _customer(shop, "u1", "ann@shop.test")
    _leave_cart(shop, "u1", "c1")
    shop.later(hours=1)
    shop.later(hours=24)
    shop.later(hours=48)
    mails = box.to("ann@shop.test")
    assert len(mails) == 3
    codes = [_code(_html(m)) for m in mails[:2]]
    assert len(set(codes)) == 2  # each e-mail its own single-use code
    with shop.app.sessions() as session:
        offers = dict(session.execute(select(PromoCode.code, PromoCode.value)).all())
    assert [offers[c] for c in codes] == [10.0, 15.0]
    assert "shipping" in _html(mails[2]).lower()
    steps = [s.step for s in shop.sends(ann)]
    assert steps == ["first_email", "second_email", "last_email"]
    assert shop.instance(ann).outcome == "completed"


def test_a_hard_bounce_suppresses_the_address_and_falls_back_to_sms(
    shop: Shop, mailbox: tuple[Mailbox, int], sms_provider: tuple[SmsProvider, str]
) -> None:
    box, _ = mailbox
    provider, _ = sms_provider
    bob = _customer(shop, "u2", "bounce-bob@shop.test", phone="+1 415 555 0123", sms_opt_in=True)
    _leave_cart(shop, "u2", "c2")
    shop.later(hours=1)
    assert box.to("bounce-bob@shop.test") == []
    first, fallback = shop.sends(bob)
    assert (first.step, first.status) == ("first_email", "bounced")
    assert (fallback.step, fallback.channel, fallback.status) == ("first_sms", "sms", "sent")
    assert [r["to"] for r in provider.requests] == ["+14155550123"]
    assert provider.headers[0].get("Idempotency-Key") == fallback.idempotency_key
    with shop.app.sessions() as session:
        reasons = session.scalars(
            select(Suppression.reason).where(Suppression.address == "bounce-bob@shop.test")
        ).all()
    assert list(reasons) == ["hard_bounce"]


def test_one_click_unsubscribe_stops_every_marketing_email_at_once(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    cleo = _customer(shop, "u3", "cleo@shop.test")
    _leave_cart(shop, "u3", "c3")
    shop.later(hours=1)
    (mail,) = box.to("cleo@shop.test")
    target = re.search(r"<(http://shop\.test/u/[^>]+)>", mail["List-Unsubscribe"])
    assert target is not None
    # RFC 8058: a POST with this body and no cookies unsubscribes.
    reply = shop.client.post(
        urlsplit(target.group(1)).path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 200
    with shop.app.sessions() as session:
        consent = session.scalar(
            select(Consent.status).where(Consent.customer_id == cleo, Consent.channel == "email")
        )
    assert consent == "denied"
    shop.later(hours=24)
    shop.later(hours=48)
    assert len(box.to("cleo@shop.test")) == 1
    later_sends = shop.sends(cleo)[1:]
    assert [s.status for s in later_sends] == ["skipped", "skipped"]
    assert all(
        "opted out" in (s.reason or "") or "suppressed" in (s.reason or "") for s in later_sends
    )


def test_a_policy_refusal_fails_the_send_without_suppressing_the_address(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    dee = _customer(shop, "u4", "policy-dee@shop.test")
    _leave_cart(shop, "u4", "c4")
    shop.later(hours=1)
    (send,) = shop.sends(dee)
    assert (send.status, send.bounced_at) == ("failed", None)
    assert "5.7.1" in (send.reason or "")
    with shop.app.sessions() as session:
        assert session.scalar(select(Suppression.id)) is None


def test_an_address_that_cannot_be_written_fails_alone_and_the_others_go_out(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    odd = _customer(shop, "u5", 'odd"one@shop.test')
    ann = _customer(shop, "u1", "ann@shop.test")
    _leave_cart(shop, "u5", "c5")
    _leave_cart(shop, "u1", "c1")
    shop.later(hours=1)
    assert len(box.to("ann@shop.test")) == 1
    (bad,) = shop.sends(odd)
    assert bad.status == "failed" and bad.reason
    (good,) = shop.sends(ann)
    assert good.status == "sent"


def test_a_reminder_deferred_by_quiet_hours_is_dropped_once_she_has_bought(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    # Tokyo: an hour after 14:00 UTC is midnight there, inside quiet hours (21:00-08:00).
    shop.track(
        {
            "type": "identify",
            "userId": "u6",
            "traits": {"email": "yui@shop.test", "email_opt_in": True},
            "context": {"timezone": "Asia/Tokyo"},
        }
    )
    shop.settle()
    yui = shop.profile("u6")
    _leave_cart(shop, "u6", "c6")
    shop.later(hours=1)
    (send,) = shop.sends(yui)
    assert send.status == "deferred" and "quiet hours" in (send.reason or "")
    shop.track(
        {
            "type": "track",
            "userId": "u6",
            "event": "Order Completed",
            "properties": {"cart_id": "c6", "order_id": "o-6", "revenue": 20},
        }
    )
    shop.settle()
    shop.later(hours=9)  # 08:00 in Tokyo: the deferral ends
    (send,) = shop.sends(yui)
    assert send.status == "skipped" and "ended (goal)" in (send.reason or "")
    assert box.to("yui@shop.test") == []


@pytest.mark.parametrize("shop", [(50.0, 0.0), (0.0, 50.0)], indirect=True)
def test_held_out_customers_get_no_cart_email_and_their_exposure_is_recorded(
    shop: Shop, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    everyone = shop.app.settings.global_holdout_percent
    journey_id = JourneyStore(shop.app.sessions, shop.clock).list()[0].id
    holdout = (
        Holdout(GLOBAL, everyone, "global control group")
        if everyone
        else Holdout(journey_key(journey_id), 50.0, f"journey {journey_id}'s holdout")
    )
    people = []  # (user, address, profile, arm)
    for n in range(10):
        user, address = f"u{n}", f"ann{n}@example.com"
        profile = _customer(shop, user, address)
        people.append((user, address, profile, holdout.arm_of(profile)))
        _leave_cart(shop, user, f"cart-{n}")
    assert {arm for *_, arm in people} == {HELD_OUT, TREATED}  # else the test shows nothing
    shop.later(hours=1, minutes=1)
    for _, address, profile, arm in people:
        first = shop.sends(profile)[0]
        if arm == HELD_OUT:
            assert box.to(address) == []
            assert (first.status, first.reason) == ("skipped", holdout.reason)
        else:
            assert len(box.to(address)) == 1
            assert first.status == "sent"
    with shop.app.sessions() as session:
        query = select(Exposure).where(Exposure.experiment == holdout.key)
        exposures = {(e.profile_id, e.arm) for e in session.scalars(query)}
    assert exposures == {(profile, arm) for _, _, profile, arm in people}
    # A held-out customer's order still reaches the journey's goal: the control's outcome.
    user, _, profile, _ = next(p for p in people if p[3] == HELD_OUT)
    shop.track(
        {
            "type": "track",
            "userId": user,
            "event": "Order Completed",
            "properties": {"cart_id": f"cart-{user[1:]}", "order_id": f"o-{user}", "revenue": 30},
        }
    )
    shop.settle()
    assert shop.instance(profile).outcome == "goal"
