"""Signed tokens in the links a message carries: open pixel, click redirect, unsubscribe.

A token is the data it stands for, signed with the secret key and a purpose of its own (a click
token cannot be replayed as an unsubscribe token), URL-safe and without expiry: an e-mail's links
must keep working for as long as the customer keeps the e-mail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any, Literal

from itsdangerous import BadSignature, Signer

Purpose = Literal["open", "click", "unsubscribe", "preferences"]
# Made once: json.dumps with options builds an encoder on every call.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# base64's URL-safe alphabet, applied to binascii's output (what base64.urlsafe_b64encode does).
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def compact_json(data: Mapping[str, Any]) -> str:
    """`data` as `_JSON` writes it: compact, non-ASCII as it is.

    A mapping of str keys to str and int values (every token's) is written here with the
    encoder's own C string escaper: JSONEncoder.encode builds a new C encoder on each call,
    over a third of what signing cost. Anything else goes to the encoder.
    """
    items = []
    for name, value in data.items():
        kind = type(value)
        if type(name) is not str or (kind is not str and kind is not int):
            return _JSON.encode(dict(data))
        text = encode_basestring(value) if kind is str else int.__repr__(value)
        items.append(f"{encode_basestring(name)}:{text}")
    return "{" + ",".join(items) + "}"


def _url_safe(raw: bytes) -> bytes:
    return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).rstrip(b"=")


class BadToken(ValueError):
    """A token that was altered, made for another purpose, or is not a token at all."""


class LinkSigner:
    """Signs and checks the tokens of one Lifetide (one secret key).

    A token is `base64url(compact JSON).signature`, as itsdangerous's `Signer` makes and
    checks it with HMAC-SHA256 under a key derived once per purpose. (Its URLSafeSerializer
    derives the key again and tries zlib on every token: four times the cost, and an e-mail
    signs about eleven.) Signing writes the JSON itself (`compact_json`) and calls
    `hmac.digest`: the same bytes as `Signer.sign` (a test holds it to that) at a third of
    its cost. Checking goes through `Signer`.
    """

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode("utf-8")
        self._signers: dict[str, Signer] = {}
        self._keys: dict[str, bytes] = {}

    def _key(self, purpose: Purpose) -> bytes:
        key = self._keys.get(purpose)
        if key is None:
            key = hmac.digest(self._secret, f"lifetide.{purpose}".encode(), "sha256")
            self._keys[purpose] = key
        return key

    def _signer(self, purpose: Purpose) -> Signer:
        signer = self._signers.get(purpose)
        if signer is None:
            signer = Signer(self._key(purpose), key_derivation="none", digest_method=hashlib.sha256)
            self._signers[purpose] = signer
        return signer

    def sign(self, purpose: Purpose, data: Mapping[str, Any]) -> str:
        """A URL-safe token carrying `data` (JSON-able) for `purpose`."""
        encoded = _url_safe(compact_json(data).encode("utf-8"))
        signature = hmac.digest(self._key(purpose), encoded, "sha256")
        return (encoded + b"." + _url_safe(signature)).decode("ascii")

    def verify(self, purpose: Purpose, token: str) -> dict[str, Any]:
        """The data of a token made for `purpose`; `BadToken` when it is anything else."""
        try:
            encoded = self._signer(purpose).unsign(token.encode("ascii"))
            padded = encoded + b"=" * (-len(encoded) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded))
        except (BadSignature, UnicodeError, binascii.Error, ValueError):
            raise BadToken(f"not a valid {purpose} token") from None
        if not isinstance(data, dict):
            raise BadToken(f"not a valid {purpose} token")
        return data
