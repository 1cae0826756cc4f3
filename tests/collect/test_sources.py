"""Tracking sources in the operational database, and the write-key cache of the request path."""

from __future__ import annotations

import datetime as dt

import pytest

from lifetide.clock import ManualClock
from lifetide.collect.sources import (
    SourceError,
    SourceExists,
    SourceNotFound,
    WriteKeyCache,
    check_name,
)
from lifetide.context import Lifetide

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def test_create_gives_the_key_once_with_its_hint(app: Lifetide) -> None:
    app.clock = ManualClock(NOW)
    created = app.sources.create("  Web shop ")

    assert created.name == "Web shop"
    assert created.hint == created.write_key[:10]
    assert created.created_at == NOW
    [row] = app.sources.list()
    assert (row.id, row.name, row.write_key_hint) == (created.id, "Web shop", created.hint)
    assert row.write_key_hash != created.write_key
    assert app.sources.active_id(created.write_key) == created.id


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "a source needs a name"),
        (" \t ", "a source needs a name"),
        ("x" * 101, "a source name has at most 100 characters, not 101"),
        ("web\nshop", "a source name cannot hold line breaks, tabs or other invisible characters"),
        (
            "web\u200bshop",
            "a source name cannot hold line breaks, tabs or other invisible characters",
        ),
    ],
)
def test_bad_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(SourceError) as refused:
        check_name(name)
    assert str(refused.value) == reason


def test_good_names_are_kept_as_given_but_trimmed() -> None:
    assert check_name("  Boutique Zürich / POS ") == "Boutique Zürich / POS"
    assert check_name("x" * 100) == "x" * 100


def test_a_taken_name_and_an_unknown_one_have_their_own_errors(app: Lifetide) -> None:
    app.sources.create("web")

    with pytest.raises(SourceExists, match="a source called 'web' exists already"):
        app.sources.create(" web ")
    with pytest.raises(SourceNotFound, match="no source called 'app'"):
        app.sources.revoke("app")


def test_revoke_gives_the_id_and_a_second_revoke_changes_nothing(app: Lifetide) -> None:
    created = app.sources.create("web")

    assert app.sources.revoke("web") == created.id
    [first] = app.sources.list()
    assert app.sources.revoke("web") == created.id
    [second] = app.sources.list()

    assert first.revoked_at is not None and second.revoked_at == first.revoked_at
    assert app.sources.active_id(created.write_key) is None


def test_the_cache_forgets_one_source_on_demand(app: Lifetide) -> None:
    cache = WriteKeyCache(app.sources, ttl=3600)
    web, pos = app.sources.create("web"), app.sources.create("pos")
    assert cache.source_id(web.write_key) == web.id
    assert cache.source_id(pos.write_key) == pos.id

    app.sources.revoke("web")
    assert cache.source_id(web.write_key) == web.id  # kept for `ttl`
    cache.forget_source(web.id)

    assert cache.source_id(web.write_key) is None
    assert cache.source_id(pos.write_key) == pos.id
