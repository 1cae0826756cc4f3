"""What a bounce, a complaint or a provider's event says about one recipient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BounceKind = Literal["hard", "soft", "complaint"]


class NotABounce(ValueError):
    """A message that is neither a delivery status notification nor a feedback report."""


@dataclass(frozen=True)
class BounceReport:
    """One recipient's bounce or complaint, and the message it was about (when known)."""

    recipient: str
    kind: BounceKind
    status: str | None = None
    diagnostic: str | None = None
    message_id: str | None = None
    send_key: str | None = None
