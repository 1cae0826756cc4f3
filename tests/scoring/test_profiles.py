"""Profiles copied to the warehouse carry the traits and consents that segments test."""

from __future__ import annotations

from lifetide.context import Lifetide
from lifetide.segments.tables import PROFILES_SCHEMA


def test_profiles_have_every_trait_column(synth_shop: Lifetide) -> None:
    profiles = synth_shop.warehouse.table("profiles")
    assert profiles.schema().names == PROFILES_SCHEMA.names
    con = synth_shop.warehouse.duckdb
    total, domains, created, consent = con.execute(
        "SELECT count(*), count(email_domain), count(created_at), count(email_consent) "
        "FROM profiles"
    ).fetchone()
    assert total > 2_000
    # Every profile has a creation time; most have an e-mail and a consent answer.
    assert created == total
    assert domains > total * 0.5
    assert consent > total * 0.5
    bad = con.execute(
        "SELECT count(*) FROM profiles WHERE email_domain <> lower(split_part(email, '@', 2))"
    ).fetchone()[0]
    assert bad == 0


def test_profile_created_is_its_first_source_record(synth_shop: Lifetide) -> None:
    con = synth_shop.warehouse.duckdb
    later = con.execute(
        """
        SELECT count(*) FROM profiles p
        JOIN profile_keys k ON k.profile_id = p.profile_id AND k.kind IN ('user_id', 'crm_id')
        JOIN customers c ON c.customer_id = k.value
        WHERE c.created_at < p.created_at
        """
    ).fetchone()[0]
    assert later == 0
    # Records were created over years, not all at resolution time.
    spread = con.execute("SELECT count(DISTINCT created_at::date) FROM profiles").fetchone()[0]
    assert spread > 100
