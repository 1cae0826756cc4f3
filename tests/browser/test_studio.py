"""The Studio's acceptance test: a marketer builds, checks, saves, exports and pushes a segment.

Chromium signs in by typing, builds three conditions in two groups by clicking, waits for the
live count and compares it with a count this test computes itself in DuckDB SQL (never through
our compiler), saves, sees the insight charts, downloads the CSV and opens a customer. Then it
adds a webhook destination (a receiver on 127.0.0.1 that checks the signatures with the secret
the page showed), pushes the segment to it, and uploads a CSV list. Full-page screenshots of
each screen go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from lifetide.ops.models import Delivery
from tests.browser.conftest import CHROMIUM_ARGS, NOW, Studio
from tests.segments.receiver import Receiver, receiving

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
# (lifecycle stage is active or loyal AND bought skincare in the last 365 days)
#   OR opened an e-mail in the last 90 days.
EXPECTED_SQL = """
WITH records AS (
    SELECT value, profile_id FROM profile_keys WHERE kind IN ('user_id', 'crm_id')
), devices AS (
    SELECT value, profile_id FROM profile_keys WHERE kind = 'anonymous_id'
), skincare_buyers AS (
    SELECT DISTINCT r.profile_id
    FROM orders o
    JOIN order_items i ON i.order_id = o.order_id
    JOIN records r ON r.value = o.customer_id
    WHERE o.status <> 'cancelled' AND i.category = 'skincare'
      AND o.ordered_at >= $now - INTERVAL 365 DAY AND o.ordered_at <= $now
), openers AS (
    SELECT DISTINCT coalesce(r.profile_id, d.profile_id) AS profile_id
    FROM events e
    LEFT JOIN records r ON r.value = e.user_id
    LEFT JOIN devices d ON d.value = e.anonymous_id
    WHERE e.event = 'Email Opened'
      AND e.timestamp >= $now - INTERVAL 90 DAY AND e.timestamp <= $now
)
SELECT count(*) FROM profiles p
LEFT JOIN predictions s ON s.profile_id = p.profile_id
WHERE (s.lifecycle_stage IN ('active', 'loyal')
       AND p.profile_id IN (SELECT profile_id FROM skincare_buyers))
   OR p.profile_id IN (SELECT profile_id FROM openers WHERE profile_id IS NOT NULL)
"""


def expected_count(studio: Studio) -> int:
    """The segment's size, by hand: SQL over the warehouse tables."""
    cursor = studio.app.warehouse.duckdb.cursor()
    try:
        now = NOW.astimezone(dt.UTC).replace(tzinfo=None)
        row = cursor.execute(EXPECTED_SQL, {"now": now}).fetchone()
    finally:
        cursor.close()
    assert row is not None
    return int(row[0])


def shot(page: Page, name: str) -> None:
    """A full-page screenshot from the top of the page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def shown_count(page: Page) -> int:
    """The live count the builder shows, once no count is running."""
    expect(page.locator(".live")).not_to_have_class(re.compile(r"\bbusy\b"))
    text = page.get_by_test_id("count").inner_text()
    return int(text.replace(",", ""))


def build_segment(page: Page) -> None:
    """Three conditions in two groups, by clicking: ANY of (ALL of stage, skincare), opened."""
    root = page.locator(".row-open").first
    root.locator("[data-op=or]").click()
    page.locator("[data-action=add-group]").first.click()  # opens the new group's field menu
    menu = page.locator(".menu")
    menu.locator("[data-group=Predictions]").click()
    menu.locator("[data-field='prediction:lifecycle_stage']").click()
    stage = page.locator(".cond[data-type=prediction]")
    stage.locator("[data-choice=active]").click()
    stage.locator("[data-choice=loyal]").click()

    # The nested group closes first, so its "Add condition" is the first one.
    page.locator("[data-action=add-condition]").first.click()
    menu.locator("[data-group=Purchases]").click()
    menu.locator("[data-field='purchase:count']").click()
    purchase = page.locator(".cond[data-type=purchase]")
    purchase.locator("[data-action=add-filter]").select_option("categories")
    category = purchase.locator("input[data-filter=categories]")
    category.fill("skincare")
    category.press("Enter")
    purchase.locator("select[aria-label='Time window']").select_option("last_days")
    purchase.locator("input[aria-label=Days]").fill("365")

    page.locator("[data-action=add-condition]").last.click()
    menu.locator("[data-group=Engagement]").click()
    menu.locator("[data-field='engagement:opened']").click()
    opened = page.locator(".cond[data-type=engagement]")
    expect(opened.locator("select[aria-label='Time window']")).to_have_value("last_days")
    expect(opened.locator("input[aria-label=Days]")).to_have_value("90")


def wait_for_charts(page: Page) -> None:
    """Until the segment page has drawn every insight chart."""
    page.wait_for_function(
        "() => window.Chart && ['chart-lifecycle', 'chart-channels', 'chart-promo',"
        " 'chart-categories', 'chart-brands'].every((id) => Chart.getChart(id))"
    )


def shop_emails(studio: Studio, n: int) -> list[str]:
    """The e-mails of the first `n` profiles that have one."""
    cursor = studio.app.warehouse.duckdb.cursor()
    try:
        rows = cursor.execute(
            "SELECT email FROM profiles WHERE email IS NOT NULL ORDER BY profile_id LIMIT ?", [n]
        ).fetchall()
    finally:
        cursor.close()
    return [str(r[0]) for r in rows]


def wait_for_delivery(studio: Studio, seconds: float = 15) -> Delivery:
    """The one delivery, once it has finished."""
    deadline = time.monotonic() + seconds
    while True:
        with studio.app.sessions() as session:
            delivery = session.query(Delivery).one()
        if delivery.status != "running" or time.monotonic() > deadline:
            return delivery
        time.sleep(0.1)


def push_to_a_new_destination(page: Page, studio: Studio, segment_url: str, count: int) -> None:
    """Add a destination by the form, push the segment to it, see the push on its page."""
    with receiving(Receiver()) as receiver:
        page.get_by_role("link", name="Destinations").click()
        expect(page.get_by_role("heading", name="No destinations yet")).to_be_visible()
        page.locator("#destination-name").fill("CRM sync")
        page.locator("#destination-url").fill(receiver.url)
        page.locator("[data-action=add-destination]").click()
        secret = page.locator("#destination-secret").inner_text().strip()
        assert len(secret) >= 40
        receiver.secret = secret
        shot(page, "destination-added")

        page.goto(segment_url)
        page.get_by_label("Destination").select_option(label="CRM sync")
        page.get_by_role("button", name="Push").click()
        expect(page.get_by_text(re.compile(r"^Sent"))).to_be_visible()
        delivery = wait_for_delivery(studio)
        assert (delivery.status, delivery.members) == ("delivered", count)
        pages = receiver.accepted()
        assert all(p.signature_ok for p in pages)
        assert sum(len(p.payload["members"]) for p in pages) == count

    # Only stored: nothing is pushed to it.
    page.goto(f"{studio.url}/destinations")
    page.locator("#destination-name").fill("Ads audience")
    page.locator("#destination-url").fill("https://hooks.example.com/lifetide")
    page.locator("[data-action=add-destination]").click()
    expect(page.get_by_test_id("new-secret")).to_contain_text("“Ads audience” is added")
    page.goto(f"{studio.url}/destinations")
    rows = page.get_by_test_id("destinations").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Not pushed to yet")
    expect(rows.nth(1)).to_contain_text("CRM sync")
    expect(rows.nth(1)).to_contain_text("Delivered")
    expect(rows.nth(1)).to_contain_text("Skincare regulars and e-mail openers")
    shot(page, "destinations")

    rows.nth(0).locator("[data-action=delete]").click()
    dialog = rows.nth(0).locator("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete the destination Ads audience?")
    shot(page, "destination-delete")
    dialog.locator("[data-action=confirm-delete]").click()
    expect(page.locator(".flash")).to_contain_text("Deleted “Ads audience”")
    expect(rows).to_have_count(1)


def upload_a_list(page: Page, studio: Studio, tmp_path: Path) -> None:
    """Upload a CSV of three customers and two strangers; see who was not found."""
    known = shop_emails(studio, 3)
    strangers = ["nobody@nowhere.example", "C-00000-unknown"]
    file = tmp_path / "open-day.csv"
    file.write_text("identifier,note\n" + "".join(f"{i},guest\n" for i in known + strangers))

    page.get_by_role("link", name="Segments").first.click()
    page.locator("[data-action=upload-list]").click()
    expect(page).to_have_url(f"{studio.url}/segments/upload")
    page.locator("#list-name").fill("Spring open-day guests")
    page.locator("#list-description").fill("Signed up at the store on the open day")
    # Pasting is the other way; only the way chosen is sent.
    page.locator("[data-mode=text]").click()
    expect(page.locator("#list-text")).to_be_enabled()
    expect(page.get_by_test_id("upload-file")).to_be_disabled()
    page.locator("#list-text").fill("\n".join(known))
    expect(page.get_by_text("3 lines")).to_be_visible()
    shot(page, "upload-paste")
    page.locator("[data-mode=file]").click()
    expect(page.locator("#list-text")).to_be_disabled()
    page.get_by_test_id("upload-file").set_input_files(str(file))
    expect(page.locator(".dropzone")).to_contain_text("open-day.csv")
    shot(page, "upload")

    page.locator("[data-action=upload]").click()
    expect(page).to_have_url(re.compile(r"/segments/\d+$"))
    expect(page.locator(".flash")).to_contain_text("3 of 5 matched; 2 not found.")
    expect(page.get_by_test_id("size")).to_have_text("3")
    unmatched = page.get_by_test_id("unmatched")
    for stranger in strangers:
        expect(unmatched).to_contain_text(stranger)
    expect(page.get_by_test_id("history")).to_contain_text("An uploaded list.")
    wait_for_charts(page)
    shot(page, "uploaded")


@pytest.mark.slow
def test_a_marketer_builds_saves_and_exports_a_segment(
    chromium_path: Path, studio: Studio, tmp_path: Path
) -> None:
    # chromium_path comes first: without a browser the test skips before the shop is built.
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on(
                "console",
                lambda msg: errors.append(msg.text) if msg.type == "error" else None,
            )

            # Sign in by typing.
            page.goto(f"{studio.url}/segments/new")
            expect(page).to_have_url(re.compile(r"/login\?next=/segments/new$"))
            shot(page, "login")
            page.locator("#email").press_sequentially(studio.email)
            page.locator("#password").press_sequentially(studio.password)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{studio.url}/segments/new")

            # Everyone first, then the segment, clicked together.
            expect(page.get_by_test_id("sentence")).to_have_text("All customers.")
            everyone = shown_count(page)
            build_segment(page)
            expect(page.get_by_test_id("sentence")).to_contain_text(
                "opened an e-mail in the last 90 days"
            )
            expect(page.get_by_test_id("sentence")).to_contain_text("skincare")
            count = shown_count(page)
            assert count == expected_count(studio)
            assert 0 < count < everyone
            share = page.get_by_test_id("share").inner_text()
            assert share == f"{count / everyone * 100:.1f}%"
            page.locator("#segment-name").fill("Skincare regulars and e-mail openers")
            shot(page, "builder")

            page.locator("[data-action=save]").first.click()
            expect(page).to_have_url(re.compile(r"/segments/\d+$"))
            segment_url = page.url
            expect(page.get_by_test_id("size")).to_have_text(f"{count:,}")
            wait_for_charts(page)
            expect(page.locator(".kpi-value").nth(2)).to_have_text(re.compile(r"%$"))
            shot(page, "segment")

            with page.expect_download() as info:
                page.locator("[data-action=export]").click()
            download = info.value
            assert download.suggested_filename.endswith(".csv")
            rows = list(csv.reader(io.StringIO(Path(download.path()).read_text("utf-8"))))
            assert rows[0][:2] == ["profile_id", "email"]
            assert len(rows) - 1 == count
            assert len({r[0] for r in rows[1:]}) == count

            member = page.get_by_test_id("members").locator("a").first
            member.click()
            expect(page).to_have_url(re.compile(r"/customers/\d+"))
            expect(page.get_by_test_id("timeline")).to_be_visible()
            shot(page, "customer")

            page.get_by_role("link", name="Segments").first.click()
            expect(page.get_by_test_id("segments")).to_contain_text(
                "Skincare regulars and e-mail openers"
            )
            shot(page, "segments")

            push_to_a_new_destination(page, studio, segment_url, count)
            upload_a_list(page, studio, tmp_path)
        finally:
            browser.close()
    assert errors == []
