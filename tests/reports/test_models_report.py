"""The model report: one self-contained, deterministic HTML file with every section."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from lifetide.models import BGNBD, GammaGamma
from lifetide.models.diagnostics import (
    calibration_holdout,
    conditional_expectations,
    tracking_curve,
)
from lifetide.models.evaluation import top_share_capture
from lifetide.reports import (
    ClassifierEvaluation,
    DataSummary,
    ModelParameters,
    ModelsReport,
    RecommendationMetrics,
    TopShareComparison,
    Unavailable,
    models_report_html,
    render_models_report,
)
from lifetide.reports.models import SECTIONS
from tests.models.test_diagnostics import simulate

HEADINGS = [title for _, title in SECTIONS]


def _classifier(name: str, n: int, base: float, seed: int) -> ClassifierEvaluation:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    probability = 1 / (1 + np.exp(-(np.log(base / (1 - base)) + 1.2 * signal)))
    y = (rng.random(n) < probability).astype(int)
    importance = [
        ("days_since_last_order", 0.31),
        ("orders_last_365d", 0.22),
        ("spend_last_365d", 0.14),
        ("p_alive_bgnbd", 0.12),
        ("share_of_orders_with_discount <&>", 0.08),
        ("email_opens_90d", 0.06),
        ("mean_basket_$ize", 0.04),
        ("a_very_long_feature_name_that_needs_shortening", 0.03),
    ]
    return ClassifierEvaluation(name, y, probability, feature_importance=importance)


def synthetic_report() -> ModelsReport:
    """A report filled the way the scoring pipeline fills it, from simulated data."""
    data = simulate(4_000, seed=3, acquisition_days=84, end_day=546)
    split = calibration_holdout(*data, 273, 546)
    bgnbd = BGNBD().fit(split.frequency, split.recency, split.T)
    repeaters = split.frequency > 0
    spend = np.random.default_rng(4).gamma(6.0, 8.0, int(repeaters.sum()))
    gamma_gamma = GammaGamma().fit(split.frequency[repeaters], spend)
    rng = np.random.default_rng(5)
    future = rng.gamma(0.4, 120.0, 4_000) * (rng.random(4_000) < 0.5)
    predicted = future * rng.lognormal(0, 0.8, 4_000) + rng.gamma(0.5, 10, 4_000)
    last_year = future * rng.lognormal(0, 1.5, 4_000) * (rng.random(4_000) < 0.7)
    recommendations = [
        RecommendationMetrics(dataset, method, p, r, g)
        for dataset, scale in (("Synthetic retailer", 1.0), ("Complete Journey", 0.6))
        for method, p, r, g in (
            ("ALS", 0.121 * scale, 0.184 * scale, 0.201 * scale),
            ("co-occurrence", 0.102 * scale, 0.150 * scale, 0.170 * scale),
            ("popularity", 0.043 * scale, 0.061 * scale, 0.070 * scale),
        )
    ]
    return ModelsReport(
        title="Lifetide model report — Demo <Beauty> & Co",
        as_of=date(2026, 11, 1),
        data=DataSummary(20_000, 14_230, 61_874, date(2023, 11, 2), date(2026, 11, 1)),
        bgnbd=ModelParameters.of("BG/NBD", bgnbd),
        gamma_gamma=ModelParameters.of("Gamma-Gamma", gamma_gamma),
        pareto_nbd=Unavailable("Pareto/NBD was not fitted (disabled in settings)"),
        tracking=tracking_curve(bgnbd, *data, 273, 546),
        conditional=conditional_expectations(
            bgnbd, split.frequency, split.recency, split.T, split.holdout_frequency, 273
        ),
        classifiers=[
            _classifier("Purchase in next 30 days", 6_000, 0.18, 6),
            _classifier("Return propensity", 6_000, 0.04, 7),
        ],
        top_share=TopShareComparison(
            top_share_capture(predicted, future), top_share_capture(last_year, future)
        ),
        lifecycle={"New": 2_310, "Active": 5_920, "At risk": 3_105, "Lapsed": 2_895, "Lost": 5_770},
        recommendations=recommendations,
        notes=["Calibration period 39 weeks, holdout 39 weeks.", "Scores use <calibrated> p."],
    )


@pytest.fixture(scope="module")
def report() -> ModelsReport:
    return synthetic_report()


class _Collector(HTMLParser):
    """Headings, element counts and attribute values of a page, checking tags balance."""

    VOID = frozenset({"meta", "br", "img", "hr", "input", "link"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[str] = []
        self.tags: dict[str, int] = {}
        self.open: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag not in self.VOID:
            self.open.append(tag)
        if tag in ("h1", "h2", "h3"):
            self._heading = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (tag, self.open[-5:])
        self.open.pop()
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    collector.close()
    assert collector.open == [], collector.open
    return collector


@pytest.fixture(scope="module")
def rendered(report: ModelsReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_models_report(report, tmp_path_factory.mktemp("report") / "models.html")


def test_renders_every_section_with_charts(rendered: Path) -> None:
    text = rendered.read_text(encoding="utf-8")
    page = _parse(text)
    assert page.headings[0] == "Lifetide model report — Demo <Beauty> & Co"
    assert set(HEADINGS) <= set(page.headings)
    assert {"Purchase in next 30 days", "Return propensity", "BG/NBD (repeat purchases)"} <= set(
        page.headings
    )
    # Tracking, conditional, 2 per classifier, top share, lifecycle, recommendations.
    assert text.count("<svg") == page.tags["svg"] == 9
    assert "not available: Pareto/NBD was not fitted (disabled in settings)" in text
    assert "<Beauty>" not in text and "&lt;Beauty&gt; &amp; Co" in text
    assert "&lt;calibrated&gt;" in text


def test_is_self_contained(rendered: Path) -> None:
    text = rendered.read_text(encoding="utf-8")
    # The only URLs are XML namespace names, which browsers never fetch.
    outside_namespaces = re.sub(r'xmlns(:\w+)?="[^"]*"', "", text)
    assert "http://" not in outside_namespaces and "https://" not in outside_namespaces
    assert "<script" not in text and "<link" not in text and "<img" not in text
    assert "@import" not in text and "url(http" not in text
    # Each figure's SVG ids are its own: no id is defined twice in the page.
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert len(ids) == len(set(ids))
    for target in set(re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', text)):
        name = target[0] or target[1]
        assert f'id="{name}"' in text, name


def test_same_input_renders_the_same_bytes(report: ModelsReport, rendered: Path) -> None:
    assert models_report_html(report).encode() == rendered.read_bytes()


def small_report() -> ModelsReport:
    """A report with a few charts, for what differs between processes."""
    return ModelsReport(
        title="Small",
        as_of=date(2026, 1, 1),
        classifiers=[_classifier("Purchase in next 30 days", 2_000, 0.2, 8)],
        lifecycle={"New": 3, "Active": 5},
    )


def test_same_input_renders_the_same_bytes_in_another_process(tmp_path: Path) -> None:
    # Hash seeds, uuids and clocks differ between processes; the output must not.
    script = (
        "import sys; from tests.reports.test_models_report import small_report; "
        "from lifetide.reports import render_models_report; "
        "render_models_report(small_report(), sys.argv[1])"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "there.html")],
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    here = render_models_report(small_report(), tmp_path / "here.html")
    assert (tmp_path / "there.html").read_bytes() == here.read_bytes()


def test_missing_sections_render_not_available(tmp_path: Path) -> None:
    bare = ModelsReport(
        title="Empty",
        as_of=date(2026, 1, 1),
        classifiers=Unavailable("fewer than 100 buyers in the test window"),
        lifecycle={},
    )
    text = render_models_report(bare, tmp_path / "empty.html").read_text(encoding="utf-8")
    page = _parse(text)
    assert set(HEADINGS) <= set(page.headings)
    assert "<svg" not in text
    assert "not available: fewer than 100 buyers in the test window" in text
    assert "not available: no rows" in text  # the empty lifecycle mapping
    # Everything else was None.
    assert text.count('class="unavailable"') == 11


def test_a_bad_classifier_is_a_value_error_naming_it(report: ModelsReport) -> None:
    broken = replace(
        report, classifiers=[ClassifierEvaluation("Churn", [1, 1, 1], [0.2, 0.5, 0.9])]
    )
    with pytest.raises(ValueError, match=r"classifier 'Churn'.*both outcomes"):
        models_report_html(broken)
