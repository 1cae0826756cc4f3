"""Sign-in throttling arithmetic: how long until enough failures have left the window."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

WINDOW = dt.timedelta(minutes=15)
EMAIL_LIMIT = 5  # failures for one e-mail within WINDOW
IP_LIMIT = 20  # failures from one address within WINDOW, whatever the e-mails


def retry_after(failures: Sequence[dt.datetime], limit: int, now: dt.datetime) -> int | None:
    """Seconds until fewer than `limit` of `failures` are inside the window; None if already.

    `failures` are the failure times inside the window, oldest first.
    """
    if len(failures) < limit:
        return None
    # Once this one leaves the window, limit - 1 remain.
    leaves_at = failures[len(failures) - limit] + WINDOW
    return max(1, math.ceil((leaves_at - now).total_seconds()))
