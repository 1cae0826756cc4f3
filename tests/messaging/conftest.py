"""Fixtures for messaging: a migrated operational database (SQLite and PostgreSQL) and links."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lifetide.clock import ManualClock
from lifetide.messaging.links import Links
from lifetide.messaging.tokens import LinkSigner
from lifetide.ops.database import session_factory

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
BASE = "https://lifetide.example.com"
SECRET = "messaging-test-secret-0123456789abcdef"


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner(SECRET)


@pytest.fixture
def links(signer: LinkSigner) -> Links:
    return Links(BASE, signer)
