"""Signed links: formats, UTM merging, and tokens that decode to exactly what was meant."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lifetide.messaging.links import Links, campaign_id, is_web_link, with_utm
from lifetide.messaging.tokens import _JSON, BadToken, LinkSigner, Purpose, compact_json
from lifetide.settings import load_settings
from tests.messaging.conftest import BASE, SECRET

UTM = "utm_source=lifetide&utm_medium=email&utm_campaign=journey-7&utm_content=first_email"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop.example.com/cart", f"https://shop.example.com/cart?{UTM}"),
        ("https://shop.example.com", f"https://shop.example.com/?{UTM}"),
        ("https://shop.example.com/p?id=3&x=", f"https://shop.example.com/p?id=3&x=&{UTM}"),
        (
            "https://shop.example.com/p?id=3#reviews",
            f"https://shop.example.com/p?id=3&{UTM}#reviews",
        ),
        (
            "https://shop.example.com/p?utm_source=newsletter&a=b%20c",
            "https://shop.example.com/p?utm_source=newsletter&a=b%20c&utm_medium=email"
            "&utm_campaign=journey-7&utm_content=first_email",
        ),
        (f"https://shop.example.com/p?{UTM}", f"https://shop.example.com/p?{UTM}"),
    ],
)
def test_utm_tags_merge_into_the_query(url: str, expected: str) -> None:
    tagged = with_utm(url, journey_id=7, step="first_email", medium="email")
    assert tagged == expected
    names = [name for name, _ in parse_qsl(urlsplit(tagged).query, keep_blank_values=True)]
    assert len(names) == len(set(names)), "no parameter twice"


def _merged_by_parsing(url: str, journey_id: int | None, step: str, medium: str) -> str:
    # with_utm as it was: every query parsed, whether or not it could hold a UTM tag.
    parts = urlsplit(url)
    present = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    tags = {
        "utm_source": "lifetide",
        "utm_medium": medium,
        "utm_campaign": campaign_id(journey_id),
        "utm_content": step,
    }
    added = [(name, value) for name, value in tags.items() if name not in present]
    if not added:
        return url
    merged = f"{parts.query}&{urlencode(added)}" if parts.query else urlencode(added)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", merged, parts.fragment))


_QUERY_PIECES = st.sampled_from(
    ["utm_source=x", "utm_medium", "utm%5Fcontent=y", "%75tm_campaign=z", "utm+source=w",
     "UTM_SOURCE=v", "a=1", "b=", "c", "d=%20e", "f=g+h", "&", "=", "utm_", "%", "%zz"]
)  # fmt: skip


@settings(max_examples=300)
@given(
    path=st.sampled_from(["", "/", "/p/1", "/é"]),
    query=st.lists(_QUERY_PIECES, max_size=6).map("&".join),
    fragment=st.sampled_from(["", "#top", "#utm_source=x"]),
    journey_id=st.sampled_from([None, 7]),
    step=st.sampled_from(["first_email", "a b&c"]),
    medium=st.sampled_from(["email", "sms"]),
)
@example(path="/p", query="a=1", fragment="", journey_id=7, step="s", medium="email")
def test_utm_tags_merge_as_a_parsed_query_says(
    path: str, query: str, fragment: str, journey_id: int | None, step: str, medium: str
) -> None:
    # Queries without "utm_" or "%" skip parsing; every query gets what parsing gives.
    url = f"https://shop.example.com{path}" + (f"?{query}" if query else "") + fragment
    tagged = with_utm(url, journey_id=journey_id, step=step, medium=medium)  # type: ignore[arg-type]
    assert tagged == _merged_by_parsing(url, journey_id, step, medium)


def test_campaigns_are_named_after_journeys() -> None:
    assert campaign_id(7) == "journey-7"
    assert campaign_id(None) == "journey"


def test_a_click_url_decodes_to_the_url_with_utm(links: Links, signer: LinkSigner) -> None:
    url = links.click_url(
        "12:first_email:1", "https://shop.example.com/cart?c=9", journey_id=7, step="first_email",
        medium="email",
    )  # fmt: skip
    assert url.startswith(f"{BASE}/t/c/")
    data = signer.verify("click", url.removeprefix(f"{BASE}/t/c/"))
    assert data == {"k": "12:first_email:1", "u": f"https://shop.example.com/cart?c=9&{UTM}"}


def test_sms_clicks_say_so(links: Links, signer: LinkSigner) -> None:
    url = links.click_url(
        "1:s:1", "https://shop.example.com/", journey_id=2, step="s", medium="sms"
    )
    data = signer.verify("click", url.rsplit("/", 1)[1])
    assert "utm_medium=sms" in data["u"]


def test_open_and_unsubscribe_tokens(links: Links, signer: LinkSigner) -> None:
    opened = links.open_url("12:first_email:1")
    assert opened.startswith(f"{BASE}/t/o/")
    assert signer.verify("open", opened.rsplit("/", 1)[1]) == {"k": "12:first_email:1"}
    unsubscribe = links.unsubscribe_url("12:first_email:1", 42, "email", "ada@example.com")
    assert unsubscribe.startswith(f"{BASE}/u/")
    token = unsubscribe.rsplit("/", 1)[1]
    assert signer.verify("unsubscribe", token) == {
        "k": "12:first_email:1", "p": 42, "c": "email", "a": "ada@example.com",
    }  # fmt: skip
    # A token made for one purpose is refused for another.
    with pytest.raises(BadToken):
        signer.verify("click", token)
    assert links.preferences_url("12:first_email:1", 42, "email", "ada@example.com") == unsubscribe
    assert links.message_links("12:first_email:1", 42, "email", "ada@example.com") == {
        "unsubscribe_url": unsubscribe,
        "preferences_url": unsubscribe,
    }


def test_links_are_stable_per_send(links: Links) -> None:
    assert links.open_url("1:a:1") == links.open_url("1:a:1")
    assert links.open_url("1:a:1") != links.open_url("1:a:2")


def test_own_links_are_recognised(links: Links) -> None:
    assert links.is_own(links.unsubscribe_url("1:a:1", 1, "email", "a@b.co"))
    assert links.is_own(links.open_url("1:a:1"))
    assert not links.is_own("https://shop.example.com/u/x")
    assert not links.is_own(f"{BASE}/api/journeys")


def test_the_base_url_comes_from_settings_without_a_trailing_slash() -> None:
    settings = load_settings(base_url="https://lt.example.org/", secret_key=SECRET)
    links = Links.from_settings(settings)
    assert links.open_url("1:a:1").startswith("https://lt.example.org/t/o/")
    with pytest.raises(ValueError, match="must be an http"):
        Links("ftp://example.com", LinkSigner(SECRET))


@pytest.mark.parametrize(
    ("url", "web"),
    [
        ("https://a.example/x", True),
        ("HTTP://a.example", True),
        ("mailto:a@b.co", False),
        ("tel:+15555550100", False),
        ("#top", False),
        ("/relative/path", False),
        ("javascript:alert(1)", False),
        ("https:no-slashes", False),
    ],
)
def test_what_counts_as_a_web_link(url: str, web: bool) -> None:
    assert is_web_link(url) is web


@pytest.mark.parametrize(
    "token", ["", "abc", "x.y", "é.x", "eyJrIjoxfQ", "eyJrIjoxfQ.", "!!!.???", "bnVsbA.sig"]
)
def test_anything_but_a_token_is_refused_cleanly(signer: LinkSigner, token: str) -> None:
    with pytest.raises(BadToken):
        signer.verify("open", token)


def test_a_token_with_one_character_changed_is_refused(signer: LinkSigner) -> None:
    token = signer.sign("open", {"k": "12:first_email:1"})
    for at in range(len(token)):
        changed = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]
        with pytest.raises(BadToken):
            signer.verify("open", changed)


def test_a_token_signed_with_another_secret_is_refused(signer: LinkSigner) -> None:
    other = LinkSigner("another secret, as long as it needs to be").sign("open", {"k": "1"})
    with pytest.raises(BadToken):
        signer.verify("open", other)


@pytest.mark.parametrize(
    ("purpose", "data"),
    [
        ("open", {"k": "12:first_email:1"}),
        ("click", {"k": "1:a:1", "u": "https://shop.example.com/p/é?a=1&b=2"}),
        ("unsubscribe", {"k": "1:a:1", "p": 42, "c": "email", "a": "ada@example.com"}),
    ],
)
def test_tokens_are_what_itsdangerous_signs(
    signer: LinkSigner, purpose: Purpose, data: dict[str, object]
) -> None:
    # sign() writes the JSON and base64 itself; the token must be byte for byte the Signer's.
    token = signer.sign(purpose, data)
    payload, _ = token.split(".")
    assert token == signer._signer(purpose).sign(payload).decode("ascii")
    assert signer.verify(purpose, token) == data


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=500)
@given(st.dictionaries(st.text(), _JSON_VALUES, max_size=5))
@example({"k": "1:a:1", "u": 'https://shop.example.com/p/é?a=1&b="2"\n\u2028'})
@example({"k": "1:a:1", "p": -42, "c": "email", "a": "ada@example.com"})
@example({"n": True, "f": 1.5, "x": None})
def test_token_json_is_what_the_encoder_writes(data: dict[str, Any]) -> None:
    assert compact_json(data) == _JSON.encode(data)
