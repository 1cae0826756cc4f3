"""Taking in a tracking request: authenticate, decompress, check, journal, answer.

The web layer hands over the raw request and sends back what this returns; the decision of
what status to give lives here, beside the rules it follows.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from lifetide.clock import Clock
from lifetide.collect.journal import Journal
from lifetide.collect.messages import (
    MAX_BATCH_BYTES,
    BadRequest,
    check_batch,
    check_single,
    parse_body,
)
from lifetide.collect.sources import WriteKeyCache

# Compressed bodies are bounded before inflating, and inflating stops at the batch limit,
# so a small gzip bomb cannot exhaust memory.
MAX_COMPRESSED_BYTES = MAX_BATCH_BYTES


@dataclass(frozen=True)
class Reply:
    """An HTTP status and a JSON body."""

    status: int
    body: dict[str, Any]

    def json(self) -> bytes:
        """The body serialized."""
        return orjson.dumps(self.body)


class Intake:
    """Accepts Segment-style tracking requests into the durable journal."""

    def __init__(self, journal: Journal, keys: WriteKeyCache, clock: Clock) -> None:
        self._journal = journal
        self._keys = keys
        self._clock = clock

    @property
    def keys(self) -> WriteKeyCache:
        """The write-key checks this intake makes (and keeps answers of)."""
        return self._keys

    async def receive(
        self,
        body: bytes,
        *,
        call_type: str | None,
        authorization: str | None,
        content_encoding: str | None,
    ) -> Reply:
        """Handle one request to `/v1/batch` (call_type None) or `/v1/<call_type>`."""
        received_at = self._clock.now()
        encoding = (content_encoding or "identity").strip().lower()
        try:
            raw = inflate(body, encoding)
            payload = parse_body(raw)
        except BadRequest as err:
            return error(400, "bad_request", str(err))

        key = basic_auth_user(authorization)
        if key is None and isinstance(payload, dict) and isinstance(payload.get("writeKey"), str):
            key = payload["writeKey"]
        source_id = self._keys.source_id(key) if key else None
        if source_id is None:
            reason = "missing write key" if not key else "unknown or revoked write key"
            return error(401, "invalid_write_key", reason)

        try:
            checked = (
                check_batch(payload, received_at)
                if call_type is None
                else check_single(payload, call_type, received_at)
            )
        except BadRequest as err:
            return error(400, "bad_request", str(err))

        if checked.accepted:
            # The original body is journaled; the loader re-checks it with the same received_at
            # and so accepts exactly the messages accepted here.
            stored = body if encoding == "gzip" else raw
            await asyncio.wrap_future(
                self._journal.append(
                    stored,
                    received_at=received_at,
                    messages=len(checked.accepted),
                    encoding="gzip" if encoding == "gzip" else "identity",
                    source_id=source_id,
                    call_type=call_type,
                )
            )
        if checked.refused:
            return error(
                400,
                "messages_refused",
                f"{len(checked.refused)} message(s) refused; the others were accepted",
                accepted=len(checked.accepted),
                refused=[r.as_dict() for r in checked.refused],
            )
        return Reply(200, {"success": True})


def error(status: int, code: str, message: str, **extra: Any) -> Reply:
    """An error reply in Segment's shape (`code`, `message`), which the SDKs parse."""
    return Reply(status, {"success": False, "code": code, "message": message, **extra})


def inflate(body: bytes, encoding: str) -> bytes:
    """The request body decompressed (gzip or none), refusing oversize bodies."""
    if encoding in ("identity", ""):
        if len(body) > MAX_BATCH_BYTES:
            raise BadRequest(f"body is {len(body):,} bytes; the limit is {MAX_BATCH_BYTES:,}")
        return body
    if encoding != "gzip":
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    if len(body) > MAX_COMPRESSED_BYTES:
        raise BadRequest(f"compressed body is over {MAX_COMPRESSED_BYTES:,} bytes")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(body, MAX_BATCH_BYTES + 1)
    except zlib.error as err:
        raise BadRequest(f"body is not valid gzip: {err}") from None
    if len(raw) > MAX_BATCH_BYTES or inflater.unconsumed_tail:
        raise BadRequest(f"decompressed body is over the limit of {MAX_BATCH_BYTES:,} bytes")
    return raw


def basic_auth_user(header: str | None) -> str | None:
    """The user name of an HTTP Basic Authorization header (the write key), if any."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user = decoded.split(":", 1)[0]
    return user or None
