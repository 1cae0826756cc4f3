from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lifetide.channels.bounces import BounceReport
from lifetide.context import Lifetide
from lifetide.journeys.store import JourneyStore
from lifetide.messaging import bounce_reports, feedback
from lifetide.web.app import create_app
from lifetide.web.pages.customers import campaign_name, event_detail, prediction_text
from tests.customers import shop
from tests.messaging.test_feedback import sent_message
from tests.web.pages.conftest import SignIn


@pytest.fixture
def client(app: Lifetide, studio_users: object) -> Iterator[TestClient]:
    """A Studio on the customer shop: Ada (11, with 10 merged into her) and Bo (12)."""
    shop.build(app)
    with TestClient(create_app(app), follow_redirects=False) as test_client:
        yield test_client


def test_customer_pages_need_a_sign_in(client: TestClient) -> None:
    assert client.get("/customers").headers["location"] == "/login?next=/customers"
    assert client.get("/customers/11").headers["location"] == "/login?next=/customers/11"


def test_the_search_page(client: TestClient, sign_in: SignIn) -> None:
    sign_in("analyst")
    page = client.get("/customers?q=ada@example.com")

    assert page.status_code == 200
    assert 'data-initial-query="ada@example.com"' in page.text
    assert "/static/js/customers.js" in page.text


def test_a_customer_page(client: TestClient, sign_in: SignIn) -> None:
    sign_in("analyst")
    response = client.get("/customers/11")

    assert response.status_code == 200
    page = response.text
    assert "Ada Lovelace" in page
    assert "ada@example.com" in page and "+14155550101" in page
    # Identifiers, consents and traits.
    for identifier in ("u-ada", "crm-ada", "dev-ada", "L-777"):
        assert identifier in page
    assert "E-mail marketing" in page
    assert "Favourite store" in page and "Soho" in page
    # Predictions, formatted; recommendations; the timeline, newest first.
    assert 'data-testid="stage">Active<' in page
    assert 'data-testid="recommendations"' in page
    timeline = page[page.index('data-testid="timeline"') :]
    assert timeline.index("Email Bounced") < timeline.index("Email Opened")
    assert timeline.index("Email Opened") < timeline.index("Order o1")
    assert "$63.00 · 2 items · online · code SPRING" in timeline
    # Bo's activity is not Ada's.
    assert "u-bo" not in page


def test_a_merged_profile_leads_to_its_survivor(client: TestClient, sign_in: SignIn) -> None:
    sign_in("marketer")
    response = client.get("/customers/10")

    assert response.status_code == 303
    assert response.headers["location"] == "/customers/11?merged=10"
    assert "Profile #10 was merged into this one." in client.get("/customers/11?merged=10").text
    assert "was merged" not in client.get("/customers/11?merged=<b>").text


def test_a_missing_customer_is_a_404_page(client: TestClient, sign_in: SignIn) -> None:
    sign_in("marketer")
    response = client.get("/customers/404")

    assert response.status_code == 404
    assert "There is no customer profile 404" in response.text


def test_predictions_read_as_a_marketer_reads_them() -> None:
    assert prediction_text("clv_12m", 1234.5, "$") == "$1,234.50"
    assert prediction_text("p_alive", 0.873) == "87.3%"
    assert prediction_text("email_open_rate_90d", 0.25) == "25.0%"
    assert prediction_text("recency_days", 12, "days") == "12 days"
    assert prediction_text("orders", 3) == "3"
    assert prediction_text("expected_orders_90d", 0.2345) == "0.23"
    assert prediction_text("future_top20", True) == "Yes"
    assert prediction_text("top_categories", ["skincare", "bath_body"]) == "skincare, bath body"
    assert prediction_text("lifecycle_stage", "at_risk") == "At risk"
    assert prediction_text("last_order_at", "2026-05-03T11:00:00") == "May 3, 2026"
    assert prediction_text("clv_12m", None, "$") == "—"


def test_campaign_names() -> None:
    assert campaign_name("cmp_20261101_hair-heroes") == "Hair heroes"
    assert campaign_name("spring-sale") == "spring-sale"
    assert campaign_name(None) == ""


def test_event_details_in_a_few_words() -> None:
    viewed = {"product_id": "p1", "brand": "Glow", "category": "skincare", "price": 30.0}
    assert event_detail(viewed) == "Glow · skincare · $30.00"
    added = {"brand": "Hue", "price": 8, "quantity": 2, "summary": "long"}
    assert event_detail(added) == "Hue · $8.00 · × 2"
    assert event_detail({"order_id": "o1", "revenue": 63}) == "revenue $63.00 · order o1"
    assert event_detail({"summary": "path: /"}) == "path: /"
    assert event_detail({"summary": "x" * 200}).endswith("…")
    assert event_detail({}) == ""


def test_the_messages_a_customer_was_sent_and_why_not(
    client: TestClient, sign_in: SignIn, app: Lifetide
) -> None:
    sent = sent_message(app, cart="c-1")
    skipped = sent_message(app, cart="c-2")
    bounced = sent_message(app, cart="c-3")
    # Sent to the profile merged into Ada: hers too.
    merged = sent_message(app, profile_id=10, cart="c-4")
    bo = sent_message(app, profile_id=12, cart="c-5", address="bo@example.com")
    JourneyStore(app.sessions, app.clock).mark(
        skipped, "skipped", "frequency cap: 1 marketing message(s) in the last day (limit 1)"
    )
    feedback.record_click(app, sent, "https://shop.example.com/")
    bounce_reports.apply_reports(
        app, [BounceReport(recipient="ada@example.com", kind="hard", send_key=bounced)], "dsn"
    )
    sign_in("analyst")

    page = client.get("/customers/11").text

    messages = page[page.index('data-testid="messages"') :]
    messages = messages[: messages.index("</table>")]
    for key in (sent, skipped, bounced, merged):
        assert f'data-send="{key}"' in messages
    assert f'data-send="{bo}"' not in messages
    assert "Cart abandonment</a> · <code>first_email</code>" in messages
    assert 'data-testid="message-status">Skipped<' in messages
    assert "frequency cap: 1 marketing message(s) in the last day (limit 1)" in messages
    assert 'data-testid="message-status">Bounced<' in messages
    assert "hard bounce" in messages
    suppressions = page[page.index('data-testid="suppressions"') :]
    assert "ada@example.com" in suppressions and "Hard bounce" in suppressions
    # Bo has none of Ada's.
    bo_page = client.get("/customers/12").text
    assert f'data-send="{bo}"' in bo_page and "No address is suppressed." in bo_page
