"""Identity resolution on a generated retailer, scored against its ground truth."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select

from lifetide.context import Lifetide
from lifetide.identity.profiles import decide_review, find_profile_id, unmerge
from lifetide.identity.resolver import IdentityResolver, ResolveSummary
from lifetide.imports.service import files_in, import_file
from lifetide.journeys.files import bundled_journeys
from lifetide.journeys.store import JourneyStore
from lifetide.ops.database import transaction
from lifetide.ops.models import Consent, Identity, IdentityReview, JourneyInstance, Merge
from lifetide.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def retailer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("retailer")
    generate(SynthConfig(customers=4000, seed=11), out)
    return out


@pytest.fixture
def loaded(app: Lifetide, retailer: Path) -> Lifetide:
    for table, path in files_in(retailer):
        import_file(app.warehouse, table, path)
    return app


def resolve(app: Lifetide) -> ResolveSummary:
    return IdentityResolver(app.warehouse, app.sessions, app.clock).run()


def record_profiles(app: Lifetide) -> dict[str, int]:
    with app.sessions() as session:
        rows = session.execute(
            select(Identity.value, Identity.customer_id).where(
                Identity.kind.in_(("user_id", "crm_id"))
            )
        ).all()
    return dict(rows)  # type: ignore[arg-type]


def same_pairs(labels: dict[str, int]) -> set[tuple[str, str]]:
    groups: dict[int, list[str]] = defaultdict(list)
    for record, label in labels.items():
        groups[label].append(record)
    return {tuple(sorted(p)) for g in groups.values() for p in itertools.combinations(g, 2)}  # type: ignore[misc]


def test_duplicates_found_with_the_required_precision_and_recall(
    loaded: Lifetide, retailer: Path
) -> None:
    summary = resolve(loaded)
    truth = dict(
        duckdb.sql(
            f"SELECT customer_id, person_id FROM '{retailer / 'truth' / 'records.parquet'}'"
        ).fetchall()
    )
    predicted, actual = same_pairs(record_profiles(loaded)), same_pairs(truth)
    hits = len(predicted & actual)
    assert hits / len(predicted) >= 0.99, f"precision {hits / len(predicted):.4f}"
    assert hits / len(actual) >= 0.95, f"recall {hits / len(actual):.4f}"
    assert summary.records == len(truth)
    assert summary.devices > 0 and summary.device_conflicts == 0


def test_profile_ids_and_live_opt_outs_are_kept_when_resolved_again(loaded: Lifetide) -> None:
    resolve(loaded)
    first = record_profiles(loaded)
    # A customer unsubscribes through a link after every record's last change: a re-resolve
    # must not grant it back from the records.
    with transaction(loaded.sessions) as session:
        row = session.scalars(
            select(Consent).where(Consent.channel == "email", Consent.status == "granted")
        ).first()
        assert row is not None
        profile = row.customer_id
        row.status, row.source = "denied", "one_click"
        row.updated_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    resolve(loaded)
    assert record_profiles(loaded) == first
    with loaded.sessions() as session:
        after = session.scalars(
            select(Consent).where(Consent.customer_id == profile, Consent.channel == "email")
        ).one()
    assert (after.status, after.source) == ("denied", "one_click")


def test_an_undone_merge_stays_undone(loaded: Lifetide) -> None:
    resolve(loaded)
    with loaded.sessions() as session:
        merge = session.scalars(select(Merge).where(Merge.rule == "shared email").limit(1)).one()
    profiles = record_profiles(loaded)
    assert profiles[merge.record_a] == profiles[merge.record_b]
    unmerge(loaded.sessions, merge.id, "test", loaded.clock.now())
    resolve(loaded)
    profiles = record_profiles(loaded)
    # Only this link is cut; if no other evidence joins them they are two profiles again.
    with loaded.sessions() as session:
        kept = session.scalars(select(Merge).where(Merge.id == merge.id)).one()
        relinked = session.scalars(
            select(Merge).where(
                Merge.record_a == merge.record_a,
                Merge.record_b == merge.record_b,
                Merge.undone_at.is_(None),
            )
        ).all()
    assert kept.undone_at is not None and kept.undone_by == "test"
    assert relinked == []


def test_a_confirmed_review_merges_two_records(loaded: Lifetide) -> None:
    resolve(loaded)
    profiles = record_profiles(loaded)
    a, b = sorted(profiles)[:2]
    assert profiles[a] != profiles[b]
    with transaction(loaded.sessions) as session:
        review = IdentityReview(
            record_a=a, record_b=b, score=0.95, status="open", created_at=loaded.clock.now()
        )
        session.add(review)
        session.flush()
        review_id = review.id
    decide_review(loaded.sessions, review_id, True, loaded.clock.now())
    # Each has a journey under way: both follow the person into the profile that survives.
    store = JourneyStore(loaded.sessions, loaded.clock)
    cart = bundled_journeys()["cart_abandonment"]
    journey_id = store.create(cart.name, cart, None).id
    for n, record in enumerate((a, b)):
        store.open_instance(journey_id, 1, profiles[record], f"cart-{n}", step="wait_an_hour")
    resolve(loaded)
    profiles = record_profiles(loaded)
    assert profiles[a] == profiles[b]
    with loaded.sessions() as session:
        owners = set(session.scalars(select(JourneyInstance.profile_id)))
    assert owners == {profiles[a]}


def test_profile_lookup_by_email_phone_and_id(loaded: Lifetide) -> None:
    resolve(loaded)
    with loaded.sessions() as session:
        email = session.scalars(select(Identity).where(Identity.kind == "email").limit(1)).one()
    assert find_profile_id(loaded.sessions, email.value.upper()) == email.customer_id
    assert find_profile_id(loaded.sessions, str(email.customer_id)) == email.customer_id
