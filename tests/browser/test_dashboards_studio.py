"""The dashboards in the real Studio with Chromium, on the demo's data, against the database.

The 3,000-person shop gets what `lifetide demo` gives it: the bundled journeys, three live,
run over its last 14 days by the rehearsal (simulated clock, the demo audience). The overview,
the cart journey's page and the global control group's page are then opened, and the figures
they show are recomputed here from the operational database (sends, their first open and
click, exposures) and the warehouse's orders, with plain Python. Screenshots go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from lifetide.accounts.service import accounts_for
from lifetide.cli.demo import DEMO_LIVE
from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.bundles import install_bundled
from lifetide.journeys.rehearsal import rehearse
from lifetide.journeys.store import JourneyStore
from lifetide.measure.sync import MeasureCopy
from lifetide.ops.database import transaction
from lifetide.ops.models import Exposure, JourneySend
from lifetide.scoring.pipeline import ScoreOptions, Scorer
from lifetide.settings import load_settings
from tests.browser.conftest import CHROMIUM_ARGS, MARKETER, NOW, serving
from tests.browser.test_studio import VIEWPORT, shot
from tests.conftest import SHOP_END

DAYS = 14
CLICK, OPEN = dt.timedelta(days=5), dt.timedelta(days=1)


@dataclass(frozen=True)
class Measured:
    """The rehearsed shop's Studio, its Lifetide, and the cart journey's id."""

    url: str
    app: Lifetide
    cart: int


@pytest.fixture
def measured(synth_shop_dir: Path, tmp_path: Path) -> Iterator[Measured]:
    data = tmp_path / "shop"
    shutil.copytree(synth_shop_dir, data)
    settings = load_settings(data_dir=data, env="test", render_processes=0)
    start = NOW - dt.timedelta(days=DAYS)
    clock = ManualClock(start)
    with Lifetide(settings, ManualClock(NOW)) as app:
        Scorer(app, ScoreOptions(as_of=SHOP_END, evaluate=False)).run()
        owner = accounts_for(app).create_user(*MARKETER, "marketer", name="Mia Marketer")
    with Lifetide(settings, clock) as app:
        store = JourneyStore(app.sessions, app.clock)
        for journey in install_bundled(app, owner.id):
            if journey.file in DEMO_LIVE and journey.journey_id is not None:
                store.set_status(journey.journey_id, "live")
        done = rehearse(app, clock, NOW)
        assert done.sent > 0 and done.clicks > 0
        cart = next(j.id for j in store.list() if j.name == "Cart abandonment")
    with Lifetide(settings, ManualClock(NOW)) as app, serving(app) as url:
        yield Measured(url, app, cart)


def _sends(app: Lifetide) -> list[JourneySend]:
    with app.sessions() as session:
        return list(session.scalars(select(JourneySend)))


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return (
        None if value is None else value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    )


def _expected(app: Lifetide, start: dt.datetime, journey: int | None = None) -> dict[str, object]:
    """The figures of [start, NOW), from the operational rows and the orders, the plain way."""
    sends = [s for s in _sends(app) if journey is None or s.journey_id == journey]
    cohort = [
        s
        for s in sends
        if s.status in ("sent", "bounced") and start <= _utc(s.sent_at or s.created_at) < NOW  # type: ignore[operator]
    ]
    touches = [
        (_utc(at), kind, s.idempotency_key, s.profile_id, s.step)
        for s in sends
        for at, kind in ((s.clicked_at, "click"), (s.opened_at, "open"))
        if at is not None
    ]
    con = app.warehouse.duckdb
    orders = con.execute(
        "SELECT o.total, o.ordered_at, k.profile_id FROM orders o JOIN profile_keys k "
        "ON k.value = o.customer_id AND k.kind IN ('user_id', 'crm_id') "
        "WHERE o.status <> 'cancelled' AND o.ordered_at >= ? AND o.ordered_at < ?",
        [start.replace(tzinfo=None), NOW.replace(tzinfo=None)],
    ).fetchall()
    revenue, credited, by_step = 0.0, 0, {}
    for total, ordered_at, profile in orders:
        at = ordered_at.replace(tzinfo=dt.UTC)
        fits = [
            t
            for t in touches
            if t[3] == profile and t[0] <= at and at - t[0] <= (CLICK if t[1] == "click" else OPEN)
        ]
        if fits:
            best = max(fits, key=lambda t: (t[0], t[1] == "click"))
            revenue += float(total)
            credited += 1
            by_step[best[4]] = by_step.get(best[4], 0.0) + float(total)
    return {
        "sent": len(cohort),
        "opened": sum(1 for s in cohort if s.opened_at or s.clicked_at),
        "clicked": sum(1 for s in cohort if s.clicked_at),
        "revenue": revenue,
        "orders": credited,
        "by_step": by_step,
        "sent_by_step": {
            step: sum(1 for s in cohort if s.step == step) for step in {s.step for s in cohort}
        },
    }


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _loaded(page: Page) -> None:
    expect(page.get_by_test_id("board")).to_have_attribute("data-loaded", "yes")


def _funnel(page: Page, stage: str) -> str:
    return page.locator(f'[data-testid="funnel"] tr[data-stage="{stage}"] td').nth(1).inner_text()


def test_the_dashboards_show_what_the_database_holds(
    chromium_path: Path, measured: Measured
) -> None:
    app = measured.app
    month = _expected(app, NOW - dt.timedelta(days=30))
    assert month["revenue"], "the rehearsal should have credited some orders"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(f"{measured.url}/dashboards?range=30d")
            page.locator("#email").fill(MARKETER[0])
            page.locator("#password").fill(MARKETER[1])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/dashboards?range=30d")
            _loaded(page)

            # The overview, last 30 days.
            expect(page.get_by_test_id("kpi-sent")).to_have_text(f"{month['sent']:,}")
            expect(page.get_by_test_id("kpi-attributed-revenue")).to_have_text(
                _money(month["revenue"])
            )  # type: ignore[arg-type]
            expect(page.get_by_test_id("kpi-attributed-orders")).to_have_text(
                f"{month['orders']:,}"
            )
            assert _funnel(page, "opened") == f"{month['opened']:,}"
            assert _funnel(page, "clicked") == f"{month['clicked']:,}"
            expect(page.get_by_test_id("lift-interval")).to_contain_text(" to ")
            shot(page, "dashboards-overview")

            # The time-range picker: 7 days.
            page.locator('[data-range="7d"]').click()
            page.wait_for_url("**/dashboards?range=7d")
            _loaded(page)
            week = _expected(app, NOW - dt.timedelta(days=7))
            expect(page.get_by_test_id("kpi-sent")).to_have_text(f"{week['sent']:,}")

            # Live: a send settled now reaches the page within 5 seconds, without a reload.
            with transaction(app.sessions) as session:
                session.add(
                    JourneySend(
                        instance_id=_sends(app)[0].instance_id,
                        idempotency_key="live:1:1",
                        step="x",
                        channel="email",
                        template="t",
                        status="sent",
                        created_at=NOW - dt.timedelta(minutes=1),
                        sent_at=NOW - dt.timedelta(minutes=1),
                        journey_id=measured.cart,
                        profile_id=1,
                    )
                )
            MeasureCopy(app.sessions, app.warehouse, app.clock).run_all()
            expect(page.get_by_test_id("kpi-sent")).to_have_text(
                f"{week['sent'] + 1:,}", timeout=5_000
            )  # type: ignore[operator]

            # The cart journey, last 30 days: each step's sends and revenue.
            page.goto(f"{measured.url}/dashboards/journeys/{measured.cart}?range=30d")
            _loaded(page)
            cart = _expected(app, NOW - dt.timedelta(days=30), measured.cart)
            for step, sent in cart["sent_by_step"].items():  # type: ignore[attr-defined]
                row = page.locator(f'[data-testid="lines"] tr[data-key="{step}"] td')
                expect(row.nth(1)).to_have_text(f"{sent:,}")
                expect(row.nth(6)).to_have_text(_money(cart["by_step"].get(step, 0.0)))  # type: ignore[attr-defined]
            expect(page.get_by_test_id("kpi-attributed-revenue")).to_have_text(
                _money(cart["revenue"])
            )  # type: ignore[arg-type]
            shot(page, "dashboards-journey")

            # The global control group: customers per arm, as exposed.
            page.goto(f"{measured.url}/dashboards/experiments/global-holdout")
            _loaded(page)
            with app.sessions() as session:
                arms = {arm: 0 for arm in ("holdout", "treated")}
                for exposure in session.scalars(
                    select(Exposure).where(Exposure.experiment == "global-holdout")
                ):
                    arms[exposure.arm] += 1
            for arm, customers in arms.items():
                expect(
                    page.locator(f'[data-testid="arms"] tr[data-arm="{arm}"] td').nth(1)
                ).to_have_text(f"{customers:,}")
            expect(page.get_by_test_id("verdict")).not_to_have_text("—")
            shot(page, "dashboards-experiment")

            # A chart's CSV is the table drawn.
            with page.expect_download() as download:
                page.goto(f"{measured.url}/dashboards?range=30d")
                _loaded(page)
                page.get_by_test_id("csv-funnel").click()
            text = Path(download.value.path()).read_text(encoding="utf-8")
            # The send added above is in it too: the CSV is as live as the page.
            now_sent = _expected(app, NOW - dt.timedelta(days=30))["sent"]
            assert text.splitlines()[0] == "stage,current,previous"
            assert text.splitlines()[1].startswith(f"sent,{now_sent},")
            assert errors == []
        finally:
            browser.close()
