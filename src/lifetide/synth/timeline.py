"""The history window, conversions between days and timestamps, and local hours of the day.

Internally every instant is float64 days since the start of the history (00:00 UTC); only
the table writers turn them into microsecond timestamps.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lifetide.synth.arraytypes import BoolArray, FloatArray, IntArray
from lifetide.synth.config import SynthConfig

US_PER_DAY = 86_400_000_000
_EPOCH = datetime.datetime(1970, 1, 1)

# Share of a local day's activity in each hour, 00-01 first. Online shopping peaks in the
# evening and is near zero before dawn; stores open 10:00-21:00 with an afternoon peak.
ONLINE_HOURS = np.array(
    [1.2, 0.7, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 3.6, 4.3, 4.8, 5.0,
     5.4, 5.5, 5.1, 4.9, 5.0, 5.4, 6.0, 6.7, 7.2, 7.0, 5.3, 2.8]
)  # fmt: skip
STORE_HOURS = np.array(
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0, 7.0,
     9.5, 10.5, 10.5, 11.0, 11.5, 11.0, 10.0, 8.0, 5.0, 0.0, 0.0, 0.0]
)  # fmt: skip


@dataclass(frozen=True)
class Timeline:
    """The history: its first instant in epoch microseconds and its length in days."""

    start_us: int
    days: int

    @classmethod
    def of(cls, config: SynthConfig) -> Timeline:
        """The window a configuration describes."""
        start_us = (config.start - _EPOCH) // datetime.timedelta(microseconds=1)
        return cls(start_us=start_us, days=config.history_days)

    @property
    def weeks(self) -> float:
        """Length of the history in weeks."""
        return self.days / 7.0

    def to_us(self, days: FloatArray) -> IntArray:
        """Epoch microseconds of instants given in days since the start."""
        return self.start_us + np.round(days * US_PER_DAY).astype(np.int64)

    def timestamps(self, days: FloatArray, valid: BoolArray | None = None) -> pa.Array:
        """Arrow timestamp[us] of instants in days since the start (null where not valid)."""
        micros = self.to_us(np.nan_to_num(days, nan=0.0, posinf=0.0, neginf=0.0))
        mask = None if valid is None else ~valid
        return pa.array(micros.view("datetime64[us]"), type=pa.timestamp("us"), mask=mask)

    def months(self, days: FloatArray) -> IntArray:
        """Calendar month (1-12, UTC) of instants given in days since the start."""
        stamps = self.to_us(days).view("datetime64[us]")
        return (stamps.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(np.int64)

    def day_of_start(self) -> datetime.date:
        """The first day of the history."""
        return (_EPOCH + datetime.timedelta(microseconds=self.start_us)).date()


def warp_hours(days: FloatArray, utc_offset_hours: IntArray, profile: FloatArray) -> FloatArray:
    """Move each instant within its UTC day so local hours follow `profile`.

    The map is monotone within a day and keeps the day, so the order of instants, the day each
    falls on and the window's end are all preserved: counting processes drawn in continuous
    time keep their law at day resolution, and only the hour of day becomes realistic.
    """
    whole = np.floor(days)
    frac = days - whole
    out = np.empty_like(days)
    for offset in np.unique(utc_offset_hours):
        # Local hour of UTC hour h is h + offset, so UTC hour h carries profile[h + offset].
        weights = np.roll(profile, -int(offset))
        cdf = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
        mask = utc_offset_hours == offset
        # Inverse CDF of the piecewise-constant density, built from the open hours only so
        # that no instant lands in a closed hour.
        hours = np.flatnonzero(weights > 0)
        xp = np.column_stack([cdf[hours], cdf[hours + 1]]).ravel()
        fp = np.column_stack([hours, hours + 1]).ravel() / 24.0
        out[mask] = np.interp(frac[mask], xp, fp)
    return whole + np.minimum(out, 1.0 - 1e-9)
