"""Signed links: formats, UTM merging, and tokens that decode to exactly what was meant."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from lifetide.messaging.links import Links, campaign_id, is_web_link, with_utm
from lifetide.messaging.tokens import BadToken, LinkSigner, Purpose
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
    # sign() computes the HMAC itself; the token must be byte for byte the Signer's.
    token = signer.sign(purpose, data)
    payload, _ = token.split(".")
    assert token == signer._signer(purpose).sign(payload).decode("ascii")
    assert signer.verify(purpose, token) == data
