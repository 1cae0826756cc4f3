"""Identifiers in one canonical form, so the same person's records compare equal (pure)."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

# Deliberately loose: the local part may be almost anything; we want a domain with a dot.
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def email(value: str | None) -> str | None:
    """The e-mail address trimmed and lower-cased, or None if it is not an address."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value).strip().lower()
    return text if _EMAIL.match(text) else None


def email_match_key(value: str | None) -> str | None:
    """A looser key for matching: no +tag, and Gmail's ignored dots removed."""
    normalized = email(value)
    if normalized is None:
        return None
    local, _, domain = normalized.rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}" if local else None


def phone(value: str | None, default_region: str = "US") -> str | None:
    """The phone number in E.164 (+14155550134), or None if it is not a valid number."""
    if value is None or not value.strip():
        return None
    try:
        parsed = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def name(value: str | None) -> str | None:
    """A personal name for comparison: accents folded, lower case, single spaces."""
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", value)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    cleaned = re.sub(r"[^a-z' -]+", "", folded)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    return cleaned or None


def plain(value: str | None) -> str | None:
    """An opaque identifier (user id, CRM id, loyalty id) trimmed, or None if empty."""
    if value is None:
        return None
    text = value.strip()
    return text or None
