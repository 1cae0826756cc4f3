"""Unique single-use promotion codes: issued once per send, redeemed once, then never again.

A code reads `P10-7KQ2MX9A` (10% off), `SAVE5-...` (5 off) or `FREESHIP-...`: a prefix a
person can read, then eight characters from an alphabet without 0/O and 1/I, drawn with
`secrets` (a code is money; it must not be guessable). The database's unique constraints
keep codes unique (a rare collision draws again) and make issuing idempotent per send key.
Redeeming is one conditional UPDATE (`... WHERE redeemed_at IS NULL AND expires_at > now`),
so of two concurrent redemptions exactly one wins, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock
from lifetide.journeys.definition import Offer
from lifetide.ops.database import transaction
from lifetide.ops.models import PromoCode

_CODES: Table = PromoCode.__table__  # type: ignore[assignment]
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
RANDOM_LENGTH = 8
_ATTEMPTS = 8


# Each random byte to a letter: 32 letters divide 256, so every letter is equally likely.
# (secrets.choice per letter cost ten times as much, once per e-mail with an offer.)
_LETTER_OF_BYTE = bytes(ALPHABET[b % len(ALPHABET)].encode("ascii")[0] for b in range(256))


def random_part(length: int = RANDOM_LENGTH) -> str:
    """`length` characters from the unambiguous alphabet, from the system's secure source."""
    return secrets.token_bytes(length).translate(_LETTER_OF_BYTE).decode("ascii")


def prefix(kind: str, value: float) -> str:
    """The readable start of a code: P10 (10% off), SAVE5 (5 off), FREESHIP."""
    whole = f"{value:g}" if float(value).is_integer() else ""
    if kind == "percent_off":
        return f"P{whole}"
    if kind == "amount_off":
        return f"SAVE{whole}"
    if kind == "free_shipping":
        return "FREESHIP"
    raise ValueError(f"unknown offer kind {kind!r}")


def describe(kind: str, value: float, symbol: str = "$") -> str:
    """What an offer gives, in words: `10% off`, `$5.00 off`, `free shipping`."""
    if kind == "percent_off":
        return f"{value:g}% off"
    if kind == "amount_off":
        return f"{symbol}{value:,.2f} off"
    if kind == "free_shipping":
        return "free shipping"
    raise ValueError(f"unknown offer kind {kind!r}")


def normalize_code(code: str) -> str:
    """A code as typed, made comparable: trimmed, upper case, inner spaces removed."""
    return "".join(code.split()).upper()


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class IssuedCode:
    """A code as a message shows it."""

    code: str
    kind: str
    value: float
    expires_at: dt.datetime

    @property
    def description(self) -> str:
        """What the code gives, in words."""
        return describe(self.kind, self.value)

    def context(self) -> dict[str, Any]:
        """The `offer` block of a message's template context."""
        return {
            "kind": self.kind,
            "value": self.value,
            "code": self.code,
            "expires_at": self.expires_at,
            "description": self.description,
        }

    @classmethod
    def of(cls, row: PromoCode) -> IssuedCode:
        """The issued code a stored row stands for."""
        return cls(row.code, row.kind, row.value, _aware(row.expires_at))


class PromoError(ValueError):
    """A code that cannot be redeemed: unknown, expired or already used."""

    def __init__(self, code: str, reason: Literal["unknown", "expired", "used"]) -> None:
        self.code = code
        self.reason = reason
        words = {"unknown": "is not a code we issued", "expired": "has expired", "used": ""}
        message = words[reason] or "has already been used"
        super().__init__(f"promo code {code!r} {message}")


@dataclass(frozen=True)
class CodeRequest:
    """One code to issue: for which send and customer, with which offer."""

    send_key: str
    profile_id: int | None
    offer: Offer


class PromoCodes:
    """Issues and redeems promotion codes in the operational database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        draw: Callable[[], str] = random_part,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._draw = draw

    def issue(self, send_key: str, profile_id: int | None, offer: Offer) -> IssuedCode:
        """The code of send `send_key`: issued now, or the one it was issued before."""
        return self.issue_many([CodeRequest(send_key, profile_id, offer)])[0]

    def issue_many(self, requests: Sequence[CodeRequest]) -> list[IssuedCode]:
        """Codes for many sends in one transaction (each idempotent per send key)."""
        keys = [r.send_key for r in requests]
        if len(set(keys)) != len(keys):
            raise ValueError("each send key may appear once in a batch of codes")
        if not requests:
            return []
        try:
            with transaction(self._sessions) as session:
                return self._issue(session, requests)
        except IntegrityError:
            # A code drawn twice, or a send issued by another worker at the same moment:
            # one by one, each in its own transaction, retrying what collided.
            return [self._issue_one(r) for r in requests]

    def _issue(self, session: Session, requests: Sequence[CodeRequest]) -> list[IssuedCode]:
        # Core statements, one executemany INSERT: ORM objects cost more than the SQL here.
        codes = _CODES.c
        found = {
            key: IssuedCode(code, kind, value, _aware(expires_at))
            for key, code, kind, value, expires_at in session.execute(
                select(codes.send_key, codes.code, codes.kind, codes.value, codes.expires_at).where(
                    codes.send_key.in_([r.send_key for r in requests])
                )
            )
        }
        now = self._clock.now()
        drawn: set[str] = set()
        rows: list[dict[str, Any]] = []
        for r in requests:
            if r.send_key in found:
                continue
            code = self._new_code(r.offer, drawn)
            drawn.add(code)
            row = self._row(r, code, now)
            rows.append(row)
            found[r.send_key] = IssuedCode(code, row["kind"], row["value"], row["expires_at"])
        if rows:
            session.execute(insert(_CODES), rows)
        return [found[r.send_key] for r in requests]

    def _issue_one(self, request: CodeRequest) -> IssuedCode:
        for _ in range(_ATTEMPTS):
            try:
                with transaction(self._sessions) as session:
                    return self._issue(session, [request])[0]
            except IntegrityError:
                continue
        raise RuntimeError(f"could not issue a unique code for {request.send_key!r}")

    def _new_code(self, offer: Offer, taken: set[str]) -> str:
        for _ in range(_ATTEMPTS):
            code = f"{prefix(offer.kind, offer.value)}-{self._draw()}"
            if code not in taken:
                return code
        raise RuntimeError("the code generator keeps drawing the same code")

    def _row(self, r: CodeRequest, code: str, now: dt.datetime) -> dict[str, Any]:
        return {
            "code": code,
            "profile_id": r.profile_id,
            "send_key": r.send_key,
            "kind": r.offer.kind,
            "value": float(r.offer.value),
            "created_at": now,
            "expires_at": now + dt.timedelta(days=r.offer.valid_days),
            "redeemed_at": None,
            "order_id": None,
        }

    def find(self, code: str) -> PromoCode | None:
        """The stored code, or None."""
        with self._sessions() as session:
            return session.scalars(
                select(PromoCode).where(PromoCode.code == normalize_code(code))
            ).first()

    def redeem(self, code: str, order_id: str, at: dt.datetime | None = None) -> PromoCode:
        """Mark `code` used by `order_id` at `at` (default now); `PromoError` if it cannot be.

        Redeeming again for the same order returns the row unchanged (a replayed order event
        must not fail); for another order it is `used`.
        """
        wanted = normalize_code(code)
        when = (at or self._clock.now()).astimezone(dt.UTC)
        with transaction(self._sessions) as session:
            won = session.execute(
                update(PromoCode)
                .where(
                    PromoCode.code == wanted,
                    PromoCode.redeemed_at.is_(None),
                    PromoCode.expires_at > when,
                )
                .values(redeemed_at=when, order_id=order_id)
                .execution_options(synchronize_session=False)
            )
            changed = getattr(won, "rowcount", 0)
            row = session.scalars(select(PromoCode).where(PromoCode.code == wanted)).first()
        if row is None:
            raise PromoError(wanted, "unknown")
        if changed == 1 or (row.redeemed_at is not None and row.order_id == order_id):
            return row
        if row.redeemed_at is not None:
            raise PromoError(wanted, "used")
        raise PromoError(wanted, "expired")
