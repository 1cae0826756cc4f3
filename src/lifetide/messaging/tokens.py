"""Signed tokens in the links a message carries: open pixel, click redirect, unsubscribe.

A token is the data it stands for, signed with the secret key and a purpose of its own (a click
token cannot be replayed as an unsubscribe token), URL-safe and without expiry: an e-mail's links
must keep working for as long as the customer keeps the e-mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeSerializer

Purpose = Literal["open", "click", "unsubscribe", "preferences"]


class BadToken(ValueError):
    """A token that was altered, made for another purpose, or is not a token at all."""


class LinkSigner:
    """Signs and checks the tokens of one Lifetide (one secret key)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        # One serializer per purpose: an e-mail signs about eight links.
        self._serializers: dict[str, URLSafeSerializer] = {}

    def _serializer(self, purpose: Purpose) -> URLSafeSerializer:
        serializer = self._serializers.get(purpose)
        if serializer is None:
            serializer = URLSafeSerializer(self._secret, salt=f"lifetide.{purpose}")
            self._serializers[purpose] = serializer
        return serializer

    def sign(self, purpose: Purpose, data: Mapping[str, Any]) -> str:
        """A URL-safe token carrying `data` (JSON-able) for `purpose`."""
        return str(self._serializer(purpose).dumps(dict(data)))

    def verify(self, purpose: Purpose, token: str) -> dict[str, Any]:
        """The data of a token made for `purpose`; `BadToken` when it is anything else."""
        try:
            data = self._serializer(purpose).loads(token)
        except BadSignature:
            raise BadToken(f"not a valid {purpose} token") from None
        if not isinstance(data, dict):
            raise BadToken(f"not a valid {purpose} token")
        return data
