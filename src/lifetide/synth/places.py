"""Where customers live and shop: US cities with their time zone, tax rate and phone areas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifetide.synth.arraytypes import FloatArray, IntArray


@dataclass(frozen=True)
class City:
    """A US city: state, IANA zone, metro population (millions), ZIP range, area codes, tax."""

    name: str
    state: str
    zone: str
    population: float
    zip_base: int
    zip_span: int
    area_codes: tuple[int, ...]
    tax_percent: float


# Standard-time UTC offsets; daylight saving is ignored where only the hour of day matters.
UTC_OFFSETS: dict[str, int] = {
    "America/New_York": -5,
    "America/Chicago": -6,
    "America/Denver": -7,
    "America/Phoenix": -7,
    "America/Los_Angeles": -8,
    "America/Anchorage": -9,
    "Pacific/Honolulu": -10,
}

_E, _C, _M, _AZ, _P = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
)

CITIES: tuple[City, ...] = (
    City("New York", "NY", _E, 19.5, 10001, 290, (212, 646, 718, 917, 347), 8.875),
    City("Los Angeles", "CA", _P, 12.9, 90001, 90, (213, 310, 323, 424, 818), 9.5),
    City("Chicago", "IL", _C, 9.4, 60601, 60, (312, 773, 872), 10.25),
    City("Dallas", "TX", _C, 7.9, 75201, 60, (214, 469, 972), 8.25),
    City("Houston", "TX", _C, 7.3, 77001, 99, (713, 281, 832), 8.25),
    City("Washington", "DC", _E, 6.3, 20001, 40, (202,), 6.0),
    City("Philadelphia", "PA", _E, 6.2, 19102, 50, (215, 267), 8.0),
    City("Miami", "FL", _E, 6.1, 33101, 90, (305, 786), 7.0),
    City("Atlanta", "GA", _E, 6.2, 30301, 60, (404, 470, 678), 8.9),
    City("Boston", "MA", _E, 4.9, 2108, 30, (617, 857), 6.25),
    City("Phoenix", "AZ", _AZ, 5.0, 85001, 50, (602, 480, 623), 8.6),
    City("San Francisco", "CA", _P, 4.6, 94102, 30, (415, 628), 8.625),
    City("Seattle", "WA", _P, 4.0, 98101, 99, (206, 253, 425), 10.25),
    City("Detroit", "MI", _E, 4.3, 48201, 30, (313, 248), 6.0),
    City("Minneapolis", "MN", _C, 3.7, 55401, 30, (612, 952, 763), 8.025),
    City("San Diego", "CA", _P, 3.3, 92101, 50, (619, 858), 7.75),
    City("Tampa", "FL", _E, 3.3, 33601, 30, (813,), 7.5),
    City("Denver", "CO", _M, 3.0, 80201, 40, (303, 720), 8.81),
    City("Baltimore", "MD", _E, 2.8, 21201, 30, (410, 443), 6.0),
    City("St. Louis", "MO", _C, 2.8, 63101, 50, (314, 636), 9.679),
    City("Orlando", "FL", _E, 2.7, 32801, 40, (407, 321), 6.5),
    City("Charlotte", "NC", _E, 2.7, 28201, 80, (704, 980), 7.25),
    City("San Antonio", "TX", _C, 2.6, 78201, 60, (210,), 8.25),
    City("Portland", "OR", _P, 2.5, 97201, 40, (503, 971), 0.0),
    City("Sacramento", "CA", _P, 2.4, 95814, 30, (916,), 8.75),
    City("Pittsburgh", "PA", _E, 2.4, 15201, 40, (412,), 7.0),
    City("Austin", "TX", _C, 2.4, 78701, 60, (512, 737), 8.25),
    City("Las Vegas", "NV", "America/Los_Angeles", 2.3, 89101, 60, (702, 725), 8.375),
    City("Cincinnati", "OH", _E, 2.3, 45201, 50, (513,), 7.8),
    City("Kansas City", "MO", _C, 2.2, 64101, 60, (816,), 8.85),
    City("Columbus", "OH", _E, 2.1, 43201, 40, (614, 380), 7.5),
    City("Indianapolis", "IN", _E, 2.1, 46201, 40, (317,), 7.0),
    City("Cleveland", "OH", _E, 2.1, 44101, 40, (216,), 8.0),
    City("Nashville", "TN", _C, 2.0, 37201, 40, (615, 629), 9.25),
    City("San Jose", "CA", _P, 2.0, 95101, 60, (408, 669), 9.375),
    City("Jacksonville", "FL", _E, 1.6, 32099, 60, (904,), 7.5),
    City("Milwaukee", "WI", _C, 1.6, 53201, 30, (414,), 7.9),
    City("Raleigh", "NC", _E, 1.4, 27601, 20, (919, 984), 7.25),
    City("Salt Lake City", "UT", _M, 1.3, 84101, 20, (801, 385), 7.75),
    City("New Orleans", "LA", _C, 1.3, 70112, 20, (504,), 9.45),
    City("Louisville", "KY", _E, 1.3, 40201, 30, (502,), 6.0),
    City("Richmond", "VA", _E, 1.3, 23218, 20, (804,), 6.0),
    City("Hartford", "CT", _E, 1.2, 6101, 20, (860, 959), 6.35),
    City("Buffalo", "NY", _E, 1.1, 14201, 20, (716,), 8.75),
    City("Birmingham", "AL", _C, 1.1, 35203, 20, (205,), 10.0),
    City("Omaha", "NE", _C, 1.0, 68102, 30, (402,), 7.0),
    City("Albuquerque", "NM", _M, 0.9, 87101, 20, (505,), 7.875),
    City("Boise", "ID", _M, 0.8, 83701, 20, (208, 986), 6.0),
    City("Anchorage", "AK", "America/Anchorage", 0.4, 99501, 20, (907,), 0.0),
    City("Honolulu", "HI", "Pacific/Honolulu", 1.0, 96801, 30, (808,), 4.5),
    City("Portland", "ME", _E, 0.6, 4101, 10, (207,), 5.5),
    City("Burlington", "VT", _E, 0.2, 5401, 10, (802,), 7.0),
)

STREET_NAMES = (
    "Maple", "Oak", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Main",
    "Church", "Walnut", "Spruce", "Sunset", "Highland", "Willow", "Jefferson", "Lincoln",
    "Madison", "Franklin", "Ridge", "River", "Spring", "Forest", "Meadow", "Chestnut",
    "Laurel", "Magnolia", "Orchard", "Valley", "Grove", "Harbor", "Prospect", "Union",
    "Broad", "Market", "Mill", "Center", "Cherry", "Poplar", "Dogwood", "Hickory",
    "Sycamore", "Birch", "Aspen", "Juniper", "Holly", "Linden", "Fairview", "Bayview",
    "Riverside", "Woodland", "Kingston", "Hamilton", "Jackson", "Monroe", "Adams", "Grant",
    "Clinton", "Vine",
)  # fmt: skip
STREET_SUFFIXES = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Way", "Ct", "Pl", "Ter")
STREET_SUFFIX_WEIGHTS = np.array([28, 24, 12, 6, 7, 12, 5, 3, 2, 1], dtype=np.float64)


def city_weights() -> FloatArray:
    """Probability of living in each city, proportional to metro population."""
    weights = np.array([c.population for c in CITIES], dtype=np.float64)
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def utc_offsets() -> IntArray:
    """Each city's standard UTC offset in hours."""
    return np.array([UTC_OFFSETS[c.zone] for c in CITIES], dtype=np.int64)


def stores_per_city() -> IntArray:
    """Number of stores in each city: one per ~2 million people, at least one."""
    return np.maximum(1, np.round(np.array([c.population for c in CITIES]) / 2.0)).astype(np.int64)
