"""Bounces and complaints reported by an e-mail provider's webhook, as generic JSON.

One event, or a list of them:

    {"type": "bounce", "recipient": "ana@example.com", "bounce_type": "hard",
     "status": "5.1.1", "diagnostic": "550 5.1.1 user unknown",
     "message_id": "<12.send.1@shop.example>", "send_key": "12:send:1"}

    {"type": "complaint", "recipient": "ana@example.com", "message_id": "..."}

Common spellings are accepted too: `event` for type, `email` for recipient, `reason` for
diagnostic, `severity` permanent/temporary for bounce_type, and types such as hard_bounce,
soft_bounce, spamreport. Without bounce_type, a bounce's status decides (5.x.x or 5xx hard,
4.x.x or 4xx soft). Anything else is refused with a ValueError naming the event and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lifetide.channels.reports import BounceKind, BounceReport

# The field each name stands for; the first name of each is the one documented.
ALIASES: dict[str, tuple[str, ...]] = {
    "type": ("type", "event", "event_type"),
    "recipient": ("recipient", "email", "address", "to"),
    "bounce_type": ("bounce_type", "severity"),
    "status": ("status", "status_code"),
    "diagnostic": ("diagnostic", "reason", "description"),
    "message_id": ("message_id", "message-id", "smtp-id"),
    "send_key": ("send_key", "x_lifetide_send", "x-lifetide-send"),
}
TYPES: dict[str, tuple[str, str | None]] = {
    "bounce": ("bounce", None),
    "bounced": ("bounce", None),
    "hard_bounce": ("bounce", "hard"),
    "hardbounce": ("bounce", "hard"),
    "soft_bounce": ("bounce", "soft"),
    "softbounce": ("bounce", "soft"),
    "complaint": ("complaint", None),
    "complained": ("complaint", None),
    "spam": ("complaint", None),
    "spamreport": ("complaint", None),
    "spam_report": ("complaint", None),
    "abuse": ("complaint", None),
}
BOUNCE_TYPES = {
    "hard": "hard",
    "permanent": "hard",
    "soft": "soft",
    "temporary": "soft",
    "transient": "soft",
}
STATUS = re.compile(r"^\s*([45])(?:\.\d{1,3}\.\d{1,3}|\d\d)\b")
MAX_RECIPIENT = 320


def parse_provider_event(payload: Any) -> list[BounceReport]:
    """The reports in a provider's JSON (an event, a list of events, or their raw text)."""
    data = payload
    if isinstance(payload, bytes | bytearray | str):
        try:
            data = json.loads(payload)
        except ValueError as err:
            raise ValueError(f"the provider event is not JSON: {err}") from None
    if isinstance(data, Mapping):
        events: list[Any] = [data]
    elif isinstance(data, list):
        events = data
    else:
        raise ValueError(
            f"a provider event must be a JSON object or a list of them, not {_kind(data)}"
        )
    reports: list[BounceReport] = []
    for index, event in enumerate(events):
        where = f"event {index}"
        if not isinstance(event, Mapping):
            raise ValueError(f"{where}: expected a JSON object, got {_kind(event)}")
        fields = _fields(event, where)
        kind = _event_kind(fields, where)
        recipient = _text(fields, "recipient", where, required=True)
        assert recipient is not None
        if len(recipient) > MAX_RECIPIENT:
            raise ValueError(f"{where}: recipient is longer than {MAX_RECIPIENT} characters")
        reports.append(
            BounceReport(
                recipient=recipient,
                kind=kind,
                status=_text(fields, "status", where) if kind != "complaint" else None,
                diagnostic=_text(fields, "diagnostic", where),
                message_id=_text(fields, "message_id", where),
                send_key=_text(fields, "send_key", where),
            )
        )
    return reports


def _fields(event: Mapping[Any, Any], where: str) -> dict[str, Any]:
    """The event's values by their documented names (keys matched without regard to case)."""
    by_name = {str(k).lower(): v for k, v in event.items()}
    fields: dict[str, Any] = {}
    for name, spellings in ALIASES.items():
        given = [s for s in spellings if by_name.get(s) is not None]
        if len(given) > 1 and len({json.dumps(by_name[s], default=str) for s in given}) > 1:
            raise ValueError(f"{where}: {' and '.join(given)} disagree; give one {name}")
        if given:
            fields[name] = by_name[given[0]]
    return fields


def _event_kind(fields: dict[str, Any], where: str) -> BounceKind:
    """Hard, soft or complaint, from type, bounce_type and status."""
    given = fields.get("type")
    if not isinstance(given, str) or not given.strip():
        raise ValueError(f"{where}: type is missing (bounce or complaint; also read from event)")
    known = TYPES.get(given.strip().lower().replace("-", "_").replace(" ", "_"))
    if known is None:
        raise ValueError(f"{where}: type {given!r} is not bounce or complaint")
    family, implied = known
    if family == "complaint":
        return "complaint"
    severity = fields.get("bounce_type")
    if severity is not None:
        if not isinstance(severity, str) or severity.strip().lower() not in BOUNCE_TYPES:
            raise ValueError(f"{where}: bounce_type must be hard or soft, not {severity!r}")
        return "hard" if BOUNCE_TYPES[severity.strip().lower()] == "hard" else "soft"
    if implied is not None:
        return "hard" if implied == "hard" else "soft"
    status = fields.get("status")
    found = STATUS.match(str(status)) if isinstance(status, str | int) else None
    if found is None:
        raise ValueError(
            f"{where}: bounce_type is missing (hard or soft) and the status "
            f"({status!r}) does not say (5.x.x or 5xx is hard, 4.x.x or 4xx soft)"
        )
    return "hard" if found.group(1) == "5" else "soft"


def _text(fields: dict[str, Any], name: str, where: str, *, required: bool = False) -> str | None:
    """A field as stripped text (numbers allowed), None when absent unless required."""
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            also = ", ".join(ALIASES[name][1:])
            raise ValueError(f"{where}: {name} is missing (also read from {also})")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{where}: {name} must be text, not {_kind(value)}")
    return " ".join(str(value).split())


def _kind(value: Any) -> str:
    """A JSON value's type in JSON's words."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)
