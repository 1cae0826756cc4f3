"""The links a message carries: open pixel, tracked clicks with UTM tags, unsubscribe (pure).

Every link is under the Lifetide's public base URL and carries a signed token (`LinkSigner`):
- open pixel   `{base}/t/o/{token}`  purpose "open",  data {"k": send key}
- click        `{base}/t/c/{token}`  purpose "click", data {"k": send key, "u": url with UTM}
- unsubscribe  `{base}/u/{token}`    purpose "unsubscribe", data {"k", "p" profile, "c"
  channel, "a" address}: GET shows the preference page, POST is the RFC 8058 one-click.
Tokens are deterministic, so the same send always gets the same links.
"""

from __future__ import annotations

import functools
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lifetide.messaging.tokens import LinkSigner
from lifetide.settings import Settings

Medium = Literal["email", "sms", "push"]
UTM_SOURCE = "lifetide"


def campaign_id(journey_id: int | None) -> str:
    """The campaign a journey's messages belong to: `journey-<id>` (`journey` without one)."""
    return "journey" if journey_id is None else f"journey-{journey_id}"


def _utm_tags(journey_id: int | None, step: str, medium: Medium) -> list[tuple[str, str]]:
    return [
        ("utm_source", UTM_SOURCE),
        ("utm_medium", medium),
        ("utm_campaign", campaign_id(journey_id)),
        ("utm_content", step),
    ]


@functools.lru_cache(maxsize=256)  # one per journey step and medium
def _utm_query(journey_id: int | None, step: str, medium: Medium) -> str:
    return urlencode(_utm_tags(journey_id, step, medium))


# Pure, and every e-mail of a journey step links to the same few catalog pages: parsed once.
@functools.lru_cache(maxsize=4096)
def with_utm(url: str, *, journey_id: int | None, step: str, medium: Medium) -> str:
    """`url` with utm_source, utm_medium, utm_campaign and utm_content merged into its query.

    A UTM parameter the URL already has is kept as it is (the marketer chose it); none is
    ever repeated. The rest of the query and the fragment are unchanged.
    """
    parts = urlsplit(url)
    if "utm_" not in parts.query and "%" not in parts.query:
        # No name in the query can read as a UTM tag (a name is decoded from %-escapes and
        # "+" only): all four are added, and the catalog's links mostly look like this.
        extra = _utm_query(journey_id, step, medium)
    else:
        query = parse_qsl(parts.query, keep_blank_values=True)
        present = {name for name, _ in query}
        added = [
            (name, value)
            for name, value in _utm_tags(journey_id, step, medium)
            if name not in present
        ]
        if not added:
            return url
        extra = urlencode(added)
    merged = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", merged, parts.fragment))


@functools.lru_cache(maxsize=4096)  # pure; the same catalog links in every e-mail
def is_web_link(url: str) -> bool:
    """Whether `url` is an absolute http(s) address (what click tracking rewrites)."""
    scheme = urlsplit(url.strip()).scheme.lower()
    return scheme in ("http", "https") and "//" in url


class Links:
    """Builds the signed links of one Lifetide (its base URL and secret key)."""

    def __init__(self, base_url: str, signer: LinkSigner) -> None:
        if not is_web_link(base_url):
            raise ValueError(f"base_url {base_url!r} must be an http(s) address")
        self.base_url = base_url.rstrip("/")
        self._signer = signer

    @classmethod
    def from_settings(cls, settings: Settings) -> Links:
        """The links of the Lifetide these settings describe."""
        return cls(settings.base_url, LinkSigner(settings.secret_key.get_secret_value()))

    def open_url(self, key: str) -> str:
        """The open pixel's address for send `key`."""
        return f"{self.base_url}/t/o/{self._signer.sign('open', {'k': key})}"

    def click_url(
        self, key: str, url: str, *, journey_id: int | None, step: str, medium: Medium
    ) -> str:
        """The tracked redirect to `url` (UTM tags added) for send `key`."""
        target = with_utm(url.strip(), journey_id=journey_id, step=step, medium=medium)
        return f"{self.base_url}/t/c/{self._signer.sign('click', {'k': key, 'u': target})}"

    def unsubscribe_url(self, key: str, profile_id: int, channel: str, address: str) -> str:
        """The unsubscribe address: GET shows the preference page, POST unsubscribes at once."""
        data = {"k": key, "p": profile_id, "c": channel, "a": address}
        return f"{self.base_url}/u/{self._signer.sign('unsubscribe', data)}"

    def preferences_url(self, key: str, profile_id: int, channel: str, address: str) -> str:
        """The preference page: the unsubscribe address opened in a browser (GET)."""
        return self.unsubscribe_url(key, profile_id, channel, address)

    def message_links(
        self, key: str, profile_id: int, channel: str, address: str
    ) -> dict[str, str]:
        """The links a template's footer needs: `unsubscribe_url` and `preferences_url`."""
        unsubscribe = self.unsubscribe_url(key, profile_id, channel, address)
        return {"unsubscribe_url": unsubscribe, "preferences_url": unsubscribe}

    def is_own(self, url: str) -> bool:
        """Whether `url` is one of Lifetide's own tracking or unsubscribe links (never wrapped)."""
        stripped = url.strip()
        return stripped.startswith((f"{self.base_url}/u/", f"{self.base_url}/t/"))
