"""Which records are one person by shared identifiers: a table of cases."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lifetide.identity import normalize
from lifetide.identity.matching import match_records


def records(rows: list[tuple[str | None, str | None, str | None, str | None]]) -> pa.Table:
    """(email, phone, last name, loyalty id) per record, normalized as the evidence reader does."""
    return pa.table(
        {
            "email_key": [normalize.email_match_key(r[0]) for r in rows],
            "phone": [normalize.phone(r[1]) for r in rows],
            "last_name_key": [normalize.name(r[2]) for r in rows],
            "loyalty_id": [r[3] for r in rows],
        }
    )


CASES = [
    ("e-mail case", [("Ana@X.com", None, "Silva", None), ("ana@x.com", None, "Silva", None)], True),
    (
        "gmail dots and +tag",
        [("a.na+shop@gmail.com", None, None, None), ("ana@gmail.com", None, None, None)],
        True,
    ),
    (
        "other domains keep dots",
        [("a.na@x.com", None, None, None), ("ana@x.com", None, None, None)],
        False,
    ),
    (
        "phone formats, same family",
        [(None, "(415) 555-0134", "Lee", None), (None, "+1 415.555.0134", "LEE", None)],
        True,
    ),
    (
        "household phone, other family",
        [(None, "4155550134", "Lee", None), (None, "4155550134", "Park", None)],
        False,
    ),
    (
        "phone, one name unknown",
        [(None, "4155550134", "Lee", None), (None, "4155550134", None, None)],
        True,
    ),
    ("loyalty card", [(None, None, "Lee", "L-77"), (None, None, "Kim", "L-77")], True),
    (
        "blocked e-mail",
        [("test@test.com", None, "A", None), ("TEST@test.com", None, "B", None)],
        False,
    ),
    (
        "nothing shared",
        [("a@x.com", "4155550134", "Lee", None), ("b@x.com", "4155550199", "Lee", None)],
        False,
    ),
]


@pytest.mark.parametrize(("rows", "same"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_pairs(
    rows: list[tuple[str | None, str | None, str | None, str | None]], same: bool
) -> None:
    labels = match_records(records(rows)).labels
    assert bool(labels[0] == labels[1]) is same


def test_a_value_shared_by_many_is_no_evidence_and_is_reported() -> None:
    shop_phone = [(f"p{i}@x.com", "(212) 555-0100", "Lee", None) for i in range(6)]
    result = match_records(records(shop_phone), max_share=5)
    assert len(set(result.labels.tolist())) == 6
    assert result.overused == {("phone", "+12125550100"): 6}


def test_links_say_why() -> None:
    result = match_records(
        records([("ana@x.com", None, None, None), ("ANA@x.com", None, None, None)])
    )
    assert [(link.rule, link.value) for link in result.links] == [("shared email", "ana@x.com")]
