"""Identity and consent from the live stream: new users get profiles, opt-outs apply at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import select

from lifetide.collect.loader import WarehouseLoader
from lifetide.context import Lifetide
from lifetide.identity.live import LiveIdentity
from lifetide.ops.models import Consent, Identity

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def message(kind: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": kind,
        "messageId": fields.pop("messageId", f"m-{id(fields)}"),
        "userId": None,
        "anonymousId": None,
        "event": None,
        "properties": {},
        "traits": {},
        "context": {},
        "timestamp": NOW,
        "receivedAt": NOW,
    }
    base.update(fields)
    return base


def identities(app: Lifetide) -> dict[tuple[str, str], int]:
    with app.sessions() as session:
        return {(i.kind, i.value): i.customer_id for i in session.scalars(select(Identity))}


def consents(app: Lifetide) -> dict[tuple[int, str], tuple[str, str | None]]:
    with app.sessions() as session:
        return {
            (c.customer_id, c.channel): (c.status, c.source)
            for c in session.scalars(select(Consent))
        }


def test_a_new_user_gets_a_profile_with_device_and_email(app: Lifetide) -> None:
    live = LiveIdentity(app.sessions, app.clock)
    changes = live.apply(
        [message("identify", userId="u1", anonymousId="a1", traits={"email": "Ana@X.com"})]
    )
    assert (changes.profiles_created, changes.identities_added) == (1, 2)
    ids = identities(app)
    assert ids[("user_id", "u1")] == ids[("anonymous_id", "a1")] == ids[("email", "ana@x.com")]


def test_unsubscribe_applies_at_once_and_the_newest_decision_wins(app: Lifetide) -> None:
    live = LiveIdentity(app.sessions, app.clock)
    live.apply([message("identify", userId="u1", traits={"email_opt_in": True})])
    profile = identities(app)[("user_id", "u1")]
    assert consents(app)[(profile, "email")] == ("granted", "trait email_opt_in")
    live.apply(
        [message("track", userId="u1", event="Unsubscribed", timestamp=NOW + dt.timedelta(hours=1))]
    )
    assert consents(app)[(profile, "email")] == ("denied", "event Unsubscribed")
    # An older opt-in arriving late does not undo a newer opt-out.
    live.apply([message("identify", userId="u1", traits={"email_opt_in": True}, timestamp=NOW)])
    assert consents(app)[(profile, "email")][0] == "denied"
    live.apply(
        [
            message(
                "identify",
                userId="u1",
                traits={"sms_opt_in": True},
                timestamp=NOW + dt.timedelta(hours=2),
            )
        ]
    )
    assert consents(app)[(profile, "sms")][0] == "granted"


def test_a_device_owned_by_one_profile_is_not_taken_by_another(app: Lifetide) -> None:
    live = LiveIdentity(app.sessions, app.clock)
    live.apply([message("identify", userId="u1", anonymousId="tablet")])
    live.apply([message("identify", userId="u2", anonymousId="tablet")])
    ids = identities(app)
    assert ids[("anonymous_id", "tablet")] == ids[("user_id", "u1")] != ids[("user_id", "u2")]


def test_anonymous_unsubscribe_applies_to_the_device_owner(app: Lifetide) -> None:
    live = LiveIdentity(app.sessions, app.clock)
    live.apply(
        [
            message(
                "identify", userId="u1", anonymousId="a1", traits={"accepts_email_marketing": True}
            )
        ]
    )
    live.apply(
        [
            message(
                "track",
                anonymousId="a1",
                event="Unsubscribed",
                timestamp=NOW + dt.timedelta(minutes=5),
            )
        ]
    )
    profile = identities(app)[("user_id", "u1")]
    assert consents(app)[(profile, "email")][0] == "denied"


def test_the_loader_applies_live_identity_after_its_commit(app: Lifetide) -> None:
    identify = {
        "type": "identify",
        "userId": "u7",
        "anonymousId": "a7",
        "traits": {"email": "z@x.io"},
    }
    body = orjson.dumps({"batch": [identify]})
    app.journal.append(body, received_at=NOW, messages=1).result()
    WarehouseLoader(app.journal, app.warehouse, LiveIdentity(app.sessions, app.clock)).load_all()
    assert ("user_id", "u7") in identities(app)
