"""Message templates in the operational database, and the bundled ones shipped as files.

Bundled templates live in `messaging/bundled_templates/`, one or two files each:
- `<name>.email.html`: header lines (`Subject: ...`), a blank line, then a one-line Jinja
  comment saying what the e-mail is for and the HTML of its content, which is set into the
  shared page of `_layout.html` (head and styles, header, footer with the unsubscribe links)
  where it says `{# about #}` and `{# content #}`: the stored template is the whole page;
- `<name>.email.txt` (optional): the e-mail's plain-text part;
- `<name>.sms.txt` / `<name>.push.txt`: the whole file is the text body.
All are Jinja2 rendered in the sandbox of `messaging.templates`. `ensure_bundled` inserts
the bundled templates that are missing and never touches one that exists (edited or not);
`restore_bundled` puts the shipped text back as a new version.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import Clock
from lifetide.messaging.templates import TemplateProblem, check_template
from lifetide.ops.database import transaction
from lifetide.ops.models import MessageTemplate

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,199}$")
_FILE = re.compile(r"^(?P<name>.+)\.(?P<channel>email|sms|push)\.(?P<ext>html|txt)$")
LAYOUT = "_layout.html"
_HEADER = re.compile(r"^(?P<key>[A-Za-z-]+):[ \t]?(?P<value>.*)$")


class TemplateNotFound(LookupError):
    """No template has that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no template named {name!r}")


@dataclass(frozen=True)
class BundledTemplate:
    """A template shipped with Lifetide, as read from its files."""

    name: str
    channel: str
    subject: str | None
    body: str
    text_body: str | None


def parse_email_file(text: str, where: str) -> tuple[str, str]:
    """The subject and body of an `.email.html` file (header lines, blank line, HTML)."""
    head, separator, body = text.partition("\n\n")
    if not separator:
        raise ValueError(f"{where}: needs header lines, a blank line, then the HTML body")
    headers: dict[str, str] = {}
    for number, line in enumerate(head.splitlines(), start=1):
        found = _HEADER.match(line)
        if found is None:
            raise ValueError(f"{where}, line {number}: expected 'Name: value', got {line!r}")
        headers[found["key"].lower()] = found["value"].strip()
    unknown = set(headers) - {"subject"}
    if unknown:
        raise ValueError(f"{where}: unknown headers {', '.join(sorted(unknown))} (only Subject)")
    if not headers.get("subject"):
        raise ValueError(f"{where}: the Subject header is missing")
    return headers["subject"], body


def _in_layout(layout: str, body: str, where: str) -> str:
    """A bundled e-mail's body set into the shared page: its comment line, then content."""
    about, _, content = body.partition("\n")
    if not (about.startswith("{#") and about.endswith("#}")):
        raise ValueError(f"{where}: the body must start with a one-line {{# comment #}}")
    return layout.replace("{# about #}\n", about + "\n", 1).replace("{# content #}\n", content, 1)


def bundled_templates() -> dict[str, BundledTemplate]:
    """Every bundled template by name, read from the package's files."""
    folder = resources.files("lifetide.messaging") / "bundled_templates"
    files = {f.name: f.read_text(encoding="utf-8") for f in folder.iterdir() if f.is_file()}
    layout = files.pop(LAYOUT)
    found: dict[str, BundledTemplate] = {}
    for file_name, text in sorted(files.items()):
        match = _FILE.match(file_name)
        if match is None:
            raise ValueError(f"bundled template file {file_name!r} is not <name>.<channel>.<ext>")
        name, channel, ext = match["name"], match["channel"], match["ext"]
        if channel == "email" and ext == "txt":
            continue  # the text part of an .email.html, read with it
        if channel == "email":
            subject, body = parse_email_file(text, file_name)
            text_body = files.get(f"{name}.email.txt")
            page = _in_layout(layout, body, file_name)
            found[name] = BundledTemplate(name, channel, subject, page, text_body)
        else:
            found[name] = BundledTemplate(name, channel, None, text.strip(), None)
    orphans = [
        f
        for f in files
        if f.endswith(".email.txt") and f.removesuffix(".txt") + ".html" not in files
    ]
    if orphans:
        raise ValueError(f"text parts without an HTML body: {', '.join(orphans)}")
    return found


class TemplateStore:
    """Reads and writes message templates; every save is checked and versioned."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def get(self, name: str) -> MessageTemplate:
        """The template called `name`, or `TemplateNotFound`."""
        with self._sessions() as session:
            row = session.scalars(
                select(MessageTemplate).where(MessageTemplate.name == name)
            ).first()
        if row is None:
            raise TemplateNotFound(name)
        return row

    def get_many(self, names: Iterable[str]) -> dict[str, MessageTemplate]:
        """The templates with these names that exist, by name (one query)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        with self._sessions() as session:
            rows = session.scalars(select(MessageTemplate).where(MessageTemplate.name.in_(wanted)))
            return {row.name: row for row in rows}

    def list(self) -> list[MessageTemplate]:
        """Every template, by name."""
        with self._sessions() as session:
            return list(session.scalars(select(MessageTemplate).order_by(MessageTemplate.name)))

    def save(
        self,
        name: str,
        channel: str,
        subject: str | None,
        body: str,
        text_body: str | None = None,
    ) -> MessageTemplate:
        """Create or change a template after checking it; a change bumps its version.

        Saving exactly what is stored changes nothing. `TemplateProblem` says what is wrong.
        """
        if not NAME.match(name):
            raise TemplateProblem(
                "name", None, "use 1-200 lower-case letters, digits, '-', '_' or '.'"
            )
        subject = subject or None
        text_body = text_body or None
        check_template(channel, subject, body, text_body, samples=({}, sample_context()))
        for attempt in range(2):
            try:
                with transaction(self._sessions) as session:
                    return self._write(session, name, channel, subject, body, text_body)
            except IntegrityError:
                # Someone created the same name at the same moment: save over theirs.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _write(
        self,
        session: Session,
        name: str,
        channel: str,
        subject: str | None,
        body: str,
        text_body: str | None,
    ) -> MessageTemplate:
        now = self._clock.now()
        row = session.scalars(
            select(MessageTemplate).where(MessageTemplate.name == name).with_for_update()
        ).first()
        if row is None:
            row = MessageTemplate(
                name=name,
                channel=channel,
                subject=subject,
                body=body,
                text_body=text_body,
                version=1,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return row
        if (row.channel, row.subject, row.body, row.text_body) != (
            channel,
            subject,
            body,
            text_body,
        ):
            row.channel, row.subject, row.body, row.text_body = channel, subject, body, text_body
            row.version += 1
            row.updated_at = now
        return row

    def delete(self, name: str) -> None:
        """Remove a template; `TemplateNotFound` when there is none."""
        with transaction(self._sessions) as session:
            gone = session.execute(delete(MessageTemplate).where(MessageTemplate.name == name))
            if getattr(gone, "rowcount", 0) == 0:
                raise TemplateNotFound(name)

    def ensure_bundled(self) -> builtins.list[str]:
        """Insert the bundled templates that are missing; the names inserted."""
        bundled = bundled_templates()
        for attempt in range(2):
            try:
                with transaction(self._sessions) as session:
                    have = set(session.scalars(select(MessageTemplate.name)))
                    now = self._clock.now()
                    added = [name for name in sorted(bundled) if name not in have]
                    for name in added:
                        t = bundled[name]
                        session.add(
                            MessageTemplate(
                                name=name,
                                channel=t.channel,
                                subject=t.subject,
                                body=t.body,
                                text_body=t.text_body,
                                version=1,
                                created_at=now,
                                updated_at=now,
                            )
                        )
                    return added
            except IntegrityError:
                # Another process inserted some at the same moment: look again.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def restore_bundled(self, name: str) -> MessageTemplate:
        """Put a bundled template's shipped text back (a new version when it differs)."""
        t = bundled_templates().get(name)
        if t is None:
            raise TemplateNotFound(name)
        return self.save(name, t.channel, t.subject, t.body, t.text_body)


def sample_context(now: dt.datetime | None = None) -> dict[str, Any]:
    """A realistic context with every key a message gets (see personalize): checks, previews."""
    moment = now or dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
    shop = "https://shop.example.com"

    def product(pid: str, name: str, price: str, category: str) -> dict[str, Any]:
        return {
            "product_id": pid,
            "name": name,
            "price": Decimal(price),
            "image_url": f"{shop}/images/{pid}.jpg",
            "url": f"{shop}/products/{pid}",
            "category": category,
            "brand": "Lumen",
        }

    serum = product("P000101", "Lumen Radiant Serum", "38.00", "skincare")
    cleanser = product("P000102", "Lumen Gentle Cleanser", "18.50", "skincare")
    return {
        "customer": {
            "id": 1,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "phone": "+15555550100",
            "time_zone": "America/New_York",
            "country": "US",
            "traits": {},
        },
        "predictions": {"lifecycle_stage": "active", "clv_12m": 240.0, "p_alive": 0.8},
        "cart": {
            "id": "cart-1",
            "items": [
                {**serum, "quantity": 1, "line_total": Decimal("38.00")},
                {**cleanser, "quantity": 2, "line_total": Decimal("37.00")},
            ],
            "total": Decimal("75.00"),
            "quantity": 3,
            "url": f"{shop}/cart",
        },
        "viewed": [serum, cleanser],
        "recommendations": [
            product("P000103", "Lumen Night Cream", "42.00", "skincare"),
            product("P000104", "Velvet Lip Tint", "16.00", "makeup"),
        ],
        "replenishment": {"product": cleanser, "due": moment.date()},
        "offer": {
            "kind": "percent_off",
            "value": 10.0,
            "code": "P10-ABCD2345",
            "expires_at": moment + dt.timedelta(days=3),
            "description": "10% off",
        },
        "shop": {"name": "Lifetide Demo Shop", "url": shop},
        "message": {"key": "1:first_email:1", "journey_id": 1, "step": "first_email"},
        "unsubscribe_url": "https://lifetide.example.com/u/sample",
        "preferences_url": "https://lifetide.example.com/u/sample",
    }
