"""Names, e-mail addresses, phones and home cities of every person.

These are drawn for all persons at once (a few small integer arrays, ~30 bytes a person), so
that e-mail addresses and phone numbers can be made unique across the whole data set: two
people never share an inbox or a phone, and the person who gets the bare `anna.lee@` address
is decided once, not per chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lifetide.synth import segments, strings
from lifetide.synth.arraytypes import BoolArray, IntArray
from lifetide.synth.names import (
    EMAIL_DOMAIN_WEIGHTS,
    EMAIL_DOMAINS,
    EMAIL_PATTERN_WEIGHTS,
    EMAIL_PATTERNS,
    FEMALE_FIRST,
    LAST,
    MALE_FIRST,
    zipf,
)
from lifetide.synth.places import CITIES, city_weights

FIRST = FEMALE_FIRST + MALE_FIRST
AREA_CODES = tuple(sorted({a for c in CITIES for a in c.area_codes}))
FEMALE_SHARE = 0.85
# Phone numbers NXX-XXXX: exchanges 200-999, so 8 million numbers per area code.
NUMBERS_PER_AREA = 800 * 10_000


def _clean(values: tuple[str, ...]) -> list[str]:
    return [re.sub(r"[^a-z]", "", v.lower()) for v in values]


@dataclass(frozen=True)
class Identities:
    """Who each person is: indexes into the name lists, city, phone and e-mail, for all persons."""

    first: IntArray  # index into FIRST
    last: IntArray  # index into LAST
    city: IntArray  # index into CITIES
    area_code: IntArray  # the three digits
    phone_local: IntArray  # the seven digits after the area code
    email: pa.Array  # lower-case address, unique

    def slice(self, begin: int, end: int) -> Identities:
        """The identities of persons begin..end-1."""
        return Identities(
            first=self.first[begin:end],
            last=self.last[begin:end],
            city=self.city[begin:end],
            area_code=self.area_code[begin:end],
            phone_local=self.phone_local[begin:end],
            email=self.email.slice(begin, end - begin),
        )


def draw_identities(n: int, rng: np.random.Generator) -> Identities:
    """Draw names, cities, unique phones and unique e-mail addresses for n persons."""
    female = rng.random(n) < FEMALE_SHARE
    first = np.where(
        female,
        rng.choice(len(FEMALE_FIRST), size=n, p=zipf(len(FEMALE_FIRST))),
        len(FEMALE_FIRST) + rng.choice(len(MALE_FIRST), size=n, p=zipf(len(MALE_FIRST))),
    )
    last = rng.choice(len(LAST), size=n, p=zipf(len(LAST), 0.6))
    city = rng.choice(len(CITIES), size=n, p=city_weights())
    codes = rng.random(n)
    area_code = np.empty(n, dtype=np.int64)
    for c, spec in enumerate(CITIES):
        members = city == c
        choices = np.array(spec.area_codes)
        area_code[members] = choices[(codes[members] * len(choices)).astype(np.int64)]
    phone_local = _unique_within(area_code, n, NUMBERS_PER_AREA, salt=int(rng.integers(1 << 20)))
    phone_local = (phone_local // 10_000 + 200) * 10_000 + phone_local % 10_000
    email = _emails(first, last, rng)
    return Identities(first, last, city, area_code, phone_local, email)


def _unique_within(groups: IntArray, n: int, space: int, salt: int) -> IntArray:
    """A number in [0, space) per element, distinct within each group (group sizes < space)."""
    order = np.argsort(groups, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = segments.ranks(groups[order])
    # An affine bijection mod `space` spreads the ranks so numbers do not look sequential.
    multiplier = 2_654_435_761 % space | 1
    while np.gcd(multiplier, space) != 1:
        multiplier += 2
    # A different offset per group, so group members of equal rank do not share a number.
    offset = (groups * 7_654_321 + salt) % space
    return np.asarray((rank * multiplier + offset) % space, dtype=np.int64)


def _emails(first: IntArray, last: IntArray, rng: np.random.Generator) -> pa.Array:
    """Lower-case addresses like anna.lee@, alee42@; digits only where the name is taken."""
    n = len(first)
    pattern = rng.choice(
        EMAIL_PATTERNS, size=n, p=EMAIL_PATTERN_WEIGHTS / EMAIL_PATTERN_WEIGHTS.sum()
    )
    domain = rng.choice(
        len(EMAIL_DOMAINS), size=n, p=EMAIL_DOMAIN_WEIGHTS / EMAIL_DOMAIN_WEIGHTS.sum()
    )
    f_clean, l_clean = _clean(FIRST), _clean(LAST)
    f = strings.pick(f_clean, first)
    f0 = strings.pick([v[0] for v in f_clean], first)
    la = strings.pick(l_clean, last)
    l0 = strings.pick([v[0] for v in l_clean], last)
    letters = pc.choose(
        pa.array(pattern.astype(np.int8)),
        strings.join([f, ".", la]),
        strings.join([f, la]),
        strings.join([f, "_", la]),
        strings.join([f0, la]),
        strings.join([f, ".", l0]),
        strings.join([la, f]),
        f,
    )
    # Rank persons among those whose address would otherwise be the same mailbox: Gmail
    # ignores dots, so anna.lee@ and annalee@ must not go to two different people.
    mailbox = pc.replace_substring(letters, ".", "")
    letter_id = np.asarray(pc.dictionary_encode(mailbox).indices, dtype=np.int64)
    key = letter_id * len(EMAIL_DOMAINS) + domain
    # Within a key, people with the bare first-name pattern come last: they always carry
    # digits, so a group of only them shifts by one; the rank stays distinct either way.
    bare = pattern == EMAIL_PATTERNS - 1
    order = np.lexsort((bare, key))
    sorted_rank = segments.ranks(key[order])
    group = np.cumsum(sorted_rank == 0) - 1
    all_bare = bare[order][sorted_rank == 0][group]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = sorted_rank + all_bare
    cycle = 997  # prime: r -> (37 r + h) mod 997 is a bijection, so digits stay distinct
    number = (rank * 37 + letter_id * 31) % cycle + 1 + 1000 * (rank // cycle)
    has_number: BoolArray = rank > 0
    digits = pc.if_else(pa.array(has_number), strings.text(number), pa.scalar(""))
    return strings.join([letters, digits, "@", strings.pick(EMAIL_DOMAINS, domain)])


def phones(area_code: IntArray, local: IntArray, style: IntArray) -> pa.Array:
    """US phone numbers written in one of six common ways (`style` 0-5)."""
    n = len(area_code)
    a = strings.digits(area_code, 3)
    e = strings.digits(local // 10_000, 3)
    s = strings.digits(local % 10_000, 4)

    def lit(text: str) -> np.ndarray:  # type: ignore[type-arg]
        return strings.literal(text, n)

    forms = [
        strings.concat_fixed([lit("("), a, lit(") "), e, lit("-"), s]),  # (415) 555-0134
        strings.concat_fixed([a, lit("-"), e, lit("-"), s]),  # 415-555-0134
        strings.concat_fixed([a, e, s]),  # 4155550134
        strings.concat_fixed([lit("+1 "), a, lit("-"), e, lit("-"), s]),  # +1 415-555-0134
        strings.concat_fixed([a, lit("."), e, lit("."), s]),  # 415.555.0134
        strings.concat_fixed([lit("+1"), a, e, s]),  # +14155550134
    ]
    return pc.choose(pa.array(style.astype(np.int8)), *forms)


PHONE_STYLE_WEIGHTS = np.array([0.35, 0.30, 0.15, 0.08, 0.07, 0.05])


def typo(names: list[str], index: IntArray, kind: IntArray, rng: np.random.Generator) -> pa.Array:
    """Names with one typing slip each: 0 swap two letters, 1 drop, 2 replace, 3 double one."""
    width = max(len(v) for v in names) + 2
    table = np.zeros((len(names), width), dtype=np.uint8)
    for i, v in enumerate(names):
        table[i, : len(v)] = np.frombuffer(v.encode(), dtype=np.uint8)
    lengths = np.array([len(v) for v in names], dtype=np.int64)[index]
    rows = table[index].copy()
    n = len(index)
    # Never touch the capital: the slips people make are inside the word.
    pos = 1 + np.floor(rng.random(n) * np.maximum(lengths - 2, 1)).astype(np.int64)
    r = np.arange(n)
    col = np.arange(width)[None, :]
    swap = (kind == 0) & (lengths >= 3)
    a, b = rows[r, pos].copy(), rows[r, np.minimum(pos + 1, width - 1)].copy()
    rows[r[swap], pos[swap]] = b[swap]
    rows[r[swap], pos[swap] + 1] = a[swap]
    drop = (kind == 1) & (lengths >= 3)
    shifted = np.concatenate([rows[:, 1:], np.zeros((n, 1), dtype=np.uint8)], axis=1)
    rows = np.where(drop[:, None] & (col >= pos[:, None]), shifted, rows)
    replace = kind == 2
    letters = (97 + rng.integers(0, 26, n)).astype(np.uint8)
    # A replacement by the same letter would be no slip at all.
    same = letters == rows[r, pos]
    letters[same] = 97 + (letters[same] - 97 + 1) % 26
    rows[r[replace], pos[replace]] = letters[replace]
    double = kind == 3
    right = np.concatenate([np.zeros((n, 1), dtype=np.uint8), rows[:, :-1]], axis=1)
    rows = np.where(double[:, None] & (col > pos[:, None]), right, rows)
    lengths = lengths - drop + double
    return strings.padded(rows, lengths)
