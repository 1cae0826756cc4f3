"""The names of the events Lifetide journals about its own messages (pure constants)."""

from __future__ import annotations

OPENED = "Email Opened"
CLICKED = "Email Link Clicked"
BOUNCED = "Email Bounced"
UNSUBSCRIBED = "Unsubscribed"
