"""What can go wrong with accounts, as exceptions the web layer and the CLI map to answers."""

from __future__ import annotations


class AccountError(ValueError):
    """Bad input for an account operation: a weak password, an unknown role, a bad e-mail."""


class EmailTaken(AccountError):
    """A user with this e-mail address exists already."""


class NotFound(AccountError):
    """No such user, or no such API token of this user."""


class LastAdmin(AccountError):
    """The change would leave no active admin, and so nobody able to manage users."""


class SignInRefused(Exception):
    """Wrong e-mail or password, or a disabled account: one message, so nothing leaks."""

    def __init__(self) -> None:
        super().__init__("wrong e-mail or password")


class Throttled(Exception):
    """Too many failed sign-ins for this e-mail or from this address; wait `retry_after` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} seconds")
        self.retry_after = retry_after
