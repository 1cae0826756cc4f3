"""Password hashes and the password policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from lifetide.accounts.errors import AccountError
from lifetide.accounts.passwords import Passwords, cheap_hasher, check_password


@pytest.fixture
def passwords() -> Passwords:
    return Passwords(cheap_hasher())


def test_hash_and_verify(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert passwords.hash("correct horse battery") != stored  # salted
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "correct horse batterY")
    assert not passwords.verify("not a hash", "correct horse battery")
    assert not passwords.needs_rehash(stored)
    assert passwords.needs_rehash("not a hash")


def test_a_hash_made_with_other_settings_needs_renewing(passwords: Passwords) -> None:
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    stored = passwords.hash("long enough password")
    assert stronger.verify(stored, "long enough password")
    assert stronger.needs_rehash(stored)


def test_test_env_hashes_cheaply_and_others_use_argon2_defaults() -> None:
    cheap = Passwords.for_env("test").hash("long enough password")
    assert "m=1024,t=1,p=1" in cheap
    assert Passwords.for_env("development").needs_rehash(cheap)
    assert Passwords.for_env("production").needs_rehash(cheap)
    default = PasswordHasher().hash("long enough password")  # argon2-cffi's defaults
    assert not Passwords.for_env("production").needs_rehash(default)
    assert not Passwords().needs_rehash(default)


def test_waste_a_check_returns_nothing_and_tolerates_anything(passwords: Passwords) -> None:
    passwords.waste_a_check("")
    passwords.waste_a_check("x" * 2000)


@pytest.mark.parametrize(
    ("password", "email", "message"),
    [
        ("short", "ana@example.com", "at least 10 characters; this one has 5"),
        ("123456789", "ana@example.com", "at least 10 characters; this one has 9"),
        ("x" * 1025, "ana@example.com", "at most 1024 characters"),
        ("Ana@Example.com", "ana@example.com", "may not be the e-mail address"),
        ("ana@example.com ", " ANA@example.com", "may not be the e-mail address"),
    ],
)
def test_policy_refuses(password: str, email: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        check_password(password, email)


def test_policy_accepts() -> None:
    check_password("0123456789", "ana@example.com")
    check_password("x" * 1024, "ana@example.com")
