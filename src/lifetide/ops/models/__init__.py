"""Operational-database tables (SQLAlchemy 2): what the running system reads and writes.

Migrations under `migrations/versions` create these; a test checks that the models and the
migrated schema agree on both SQLite and PostgreSQL. One module per area; everything is
importable from here.
"""

from lifetide.ops.models.accounts import ApiToken, LoginAttempt, User, UserSession
from lifetide.ops.models.activity import ShopperActivity
from lifetide.ops.models.base import NAMING, Base, Id
from lifetide.ops.models.intake import ImportRun, Source
from lifetide.ops.models.journeys import (
    JourneyCursor,
    JourneyInput,
    JourneyInstance,
    JourneyRecord,
    JourneySend,
    JourneyVersion,
)
from lifetide.ops.models.messaging import Exposure, MessageTemplate, PromoCode, Suppression
from lifetide.ops.models.people import Consent, Customer, Identity, IdentityReview, Merge
from lifetide.ops.models.segments import (
    Delivery,
    Destination,
    Segment,
    SegmentRefresh,
    SegmentVersion,
)

__all__ = [
    "NAMING",
    "ApiToken",
    "Base",
    "Consent",
    "Customer",
    "Delivery",
    "Destination",
    "Exposure",
    "Id",
    "Identity",
    "IdentityReview",
    "ImportRun",
    "JourneyCursor",
    "JourneyInput",
    "JourneyInstance",
    "JourneyRecord",
    "JourneySend",
    "JourneyVersion",
    "LoginAttempt",
    "Merge",
    "MessageTemplate",
    "PromoCode",
    "Segment",
    "SegmentRefresh",
    "SegmentVersion",
    "ShopperActivity",
    "Source",
    "Suppression",
    "User",
    "UserSession",
]
