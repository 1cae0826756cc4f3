"""Identifiers normalize to one form; what is not an identifier becomes None."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifetide.identity import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ana.Silva@Example.COM", "ana.silva@example.com"),
        ("  bo@shop.io \n", "bo@shop.io"),
        ("not-an-email", None),
        ("a@b", None),
        ("two words@x.com", None),
        ("", None),
        (None, None),
    ],
)
def test_email(raw: str | None, expected: str | None) -> None:
    assert normalize.email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ana.Silva+promo@GMail.com", "anasilva@gmail.com"),
        ("ana.silva@googlemail.com", "anasilva@gmail.com"),
        ("ana.silva+x@example.com", "ana.silva@example.com"),
        ("+x@example.com", None),
    ],
)
def test_email_match_key(raw: str, expected: str | None) -> None:
    assert normalize.email_match_key(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(415) 555-0134", "+14155550134"),
        ("+1 415-555-0134", "+14155550134"),
        ("4155550134", "+14155550134"),
        ("415.555.0134", "+14155550134"),
        ("+44 20 7946 0958", "+442079460958"),
        ("555-0134", None),  # too short to be a full number
        ("call me", None),
        ("", None),
        (None, None),
    ],
)
def test_phone(raw: str | None, expected: str | None) -> None:
    assert normalize.phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  José  María ", "jose maria"),
        ("O'Brien", "o'brien"),
        ("ANNE-MARIE", "anne-marie"),
        ("123", None),
    ],
)
def test_name(raw: str, expected: str | None) -> None:
    assert normalize.name(raw) == expected


@given(st.emails())
def test_email_is_idempotent(address: str) -> None:
    once = normalize.email(address)
    assert once is None or normalize.email(once) == once


@given(st.text(max_size=30))
def test_phone_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize.phone(text)
    assert once is None or normalize.phone(once) == once
