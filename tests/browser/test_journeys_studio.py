"""Journeys in the real Studio with Chromium: the list, one journey's graph with live counts,
pausing it; and a customer's preference page reached from an e-mail's unsubscribe link.

Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from lifetide.journeys.bundles import install_bundled
from lifetide.journeys.runner import JourneyRunner
from lifetide.journeys.store import JourneyStore
from lifetide.messaging.links import Links
from lifetide.messaging.tokens import LinkSigner
from lifetide.ops.models import Consent, Customer
from tests.browser.conftest import CHROMIUM_ARGS, Studio
from tests.browser.test_studio import VIEWPORT, shot


def _cart_journey_with_customers(studio: Studio) -> tuple[int, list[int]]:
    """The bundled journeys installed, cart abandonment live with five customers waiting."""
    app = studio.app
    install_bundled(app)
    store = JourneyStore(app.sessions, app.clock)
    cart = next(j for j in store.list() if j.name == "Cart abandonment")
    store.transition(cart.id, "start")
    with app.sessions() as session:
        profiles = list(session.scalars(select(Customer.id).limit(5)))
    for n, profile in enumerate(profiles):
        opened = store.open_instance(cart.id, cart.version, profile, f"cart-{n}", step="x")
        assert opened is not None
    JourneyRunner(app.sessions, app.clock, "browser-test", lambda _r, _p: set()).run_batch()
    return cart.id, profiles


def _errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_a_marketer_reads_a_journey_and_pauses_it(chromium_path: Path, studio: Studio) -> None:
    journey_id, _ = _cart_journey_with_customers(studio)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(15_000)
            errors = _errors(page)
            page.goto(f"{studio.url}/journeys")
            page.locator("#email").fill(studio.email)
            page.locator("#password").fill(studio.password)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{studio.url}/journeys")
            table = page.get_by_test_id("journeys")
            row = table.locator("tr", has_text="Cart abandonment")
            expect(row.get_by_test_id("status")).to_have_text("Live")
            expect(row.get_by_test_id("in-flight")).to_have_text("5")
            expect(table.locator("tr", has_text="Win-back").get_by_test_id("status")).to_have_text(
                "Draft"
            )
            shot(page, "journeys-list")

            row.get_by_role("link", name="Cart abandonment").click()
            expect(page).to_have_url(f"{studio.url}/journeys/{journey_id}")
            expect(page.get_by_test_id("trigger")).to_contain_text("Product Added")
            steps = page.get_by_test_id("steps")
            expect(steps).to_contain_text("first_email")
            expect(steps).to_contain_text("cart-reminder")
            waiting = steps.locator("li", has_text="wait_an_hour").get_by_test_id("here").first
            expect(waiting).to_contain_text("5 here")
            shot(page, "journey-detail")

            page.locator(f"[data-action=pause-{journey_id}]").click()
            expect(page.get_by_test_id("status").first).to_have_text("Paused")
            assert JourneyStore(studio.app.sessions, studio.app.clock).get(journey_id).status == (
                "paused"
            )
            assert errors == []
        finally:
            browser.close()


def test_the_unsubscribe_link_opens_a_preference_page_that_unsubscribes(
    chromium_path: Path, studio: Studio
) -> None:
    app = studio.app
    with app.sessions() as session:
        customer = session.scalars(select(Customer).where(Customer.email.is_not(None))).first()
        assert customer is not None
        profile, address = customer.id, str(customer.email)
    links = Links(studio.url, LinkSigner(app.settings.secret_key.get_secret_value()))
    url = links.unsubscribe_url("1:first_email:1", profile, "email", address)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context(viewport={"width": 420, "height": 860}).new_page()
            page.set_default_timeout(15_000)
            errors = _errors(page)
            page.goto(url)  # no sign-in: the signed link is the authority
            expect(page.get_by_role("heading", name="Message preferences")).to_be_visible()
            expect(page.get_by_test_id("address")).to_have_text(address)
            shot(page, "preferences")
            page.locator("[data-action=unsubscribe-all]").click()
            expect(page.get_by_test_id("confirmation")).to_contain_text(
                re.compile("unsubscribed from all marketing")
            )
            shot(page, "preferences-unsubscribed")
            assert errors == []
        finally:
            browser.close()
    with app.sessions() as session:
        status = session.scalar(
            select(Consent.status).where(Consent.customer_id == profile, Consent.channel == "email")
        )
    assert status == "denied"
