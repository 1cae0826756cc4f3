"""Password hashes (argon2id via argon2-cffi) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lifetide.accounts.errors import AccountError

MIN_LENGTH = 10
# argon2 hashes any length, but a cap keeps a megabyte "password" out of every layer.
MAX_LENGTH = 1024


def check_password(password: str, email: str) -> None:
    """Raise AccountError saying why `password` may not be used by the user with `email`."""
    if len(password) < MIN_LENGTH:
        raise AccountError(
            f"a password needs at least {MIN_LENGTH} characters; this one has {len(password)}"
        )
    if len(password) > MAX_LENGTH:
        raise AccountError(f"a password may have at most {MAX_LENGTH} characters")
    if password.strip().lower() == email.strip().lower():
        raise AccountError("the password may not be the e-mail address")


def cheap_hasher() -> PasswordHasher:
    """A fast, weak hasher for test runs only (LIFETIDE_ENV=test): about a millisecond a hash."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Passwords:
    """Hashing and checking passwords; a stored hash made with weaker settings is renewed."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    @classmethod
    def for_env(cls, env: str) -> Passwords:
        """argon2-cffi's defaults (RFC 9106 low-memory), except the cheap hasher under test."""
        return cls(cheap_hasher() if env == "test" else None)

    def hash(self, password: str) -> str:
        """A new salted hash of `password`."""
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        """Whether `password` matches the `stored` hash (False for a malformed hash too)."""
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether `stored` was made with other settings than this hasher's: renew it."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def waste_a_check(self, password: str) -> None:
        """Take as long as a real check, for an unknown e-mail, so timing does not reveal it."""
        if self._dummy is None:
            self._dummy = self._hasher.hash("not anybody's password")
        self.verify(self._dummy, password)
