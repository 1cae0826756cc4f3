"""E-mail written to a folder as .eml files instead of sent: the default without an SMTP server.

Each message becomes `<key>.eml` (the key percent-encoded so that any key is one safe file
name), written to a temporary file, flushed to disk and renamed into place, so a reader never
sees half a message and a repeated key replaces the file rather than adding a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from urllib.parse import quote

from lifetide.channels.messages import DeliveryResult, OutgoingEmail, Record

# File names stay well under the usual 255-byte limit; longer keys end in a digest.
MAX_STEM = 150


def file_stem(key: str) -> str:
    """The file name (without .eml) for a message key: reversible, or shortened with a digest."""
    if not key:
        raise ValueError("a message key cannot be empty")
    stem = quote(key, safe="-_.:@+=,")
    if stem.startswith("."):
        stem = "%2E" + stem[1:]
    if len(stem) > MAX_STEM:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        stem = f"{stem[: MAX_STEM - 17]}~{digest}"
    return stem


class FileTransport:
    """Writes each e-mail to `directory` as an .eml file; every message is "sent"."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"FileTransport({str(self.directory)!r})"

    def path_of(self, key: str) -> Path:
        """Where the message with this key is (or would be) written."""
        return self.directory / f"{file_stem(key)}.eml"

    async def send(self, batch: Sequence[OutgoingEmail]) -> list[DeliveryResult]:
        """Write the batch (off the event loop); one result per message, in batch order."""
        if not batch:
            return []
        return await asyncio.to_thread(self._write_all, list(batch))

    async def send_stream(
        self, source: AsyncGenerator[OutgoingEmail, None], record: Record
    ) -> None:
        """Write each message as `source` yields it, awaiting `record` for its result."""
        async with contextlib.aclosing(source):
            index = 0
            async for item in source:
                results = await asyncio.to_thread(self._write_all, [item])
                await record(index, results[0])
                index += 1

    async def close(self) -> None:
        """Nothing to release."""

    def _write_all(self, batch: list[OutgoingEmail]) -> list[DeliveryResult]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            detail = f"cannot write to {self.directory}: {err}"
            return [DeliveryResult(item.key, "retry", None, detail) for item in batch]
        return [self._write(item) for item in batch]

    def _write(self, item: OutgoingEmail) -> DeliveryResult:
        """One message to disk, or "failed" with the reason (the batch goes on)."""
        try:
            target = self.path_of(item.key)
            data = item.data
        except (ValueError, TypeError, UnicodeError, LookupError) as err:
            return DeliveryResult(item.key, "failed", None, f"cannot write: {err}")
        try:
            _write_atomically(target, data)
        except OSError as err:
            return DeliveryResult(item.key, "retry", None, f"cannot write {target}: {err}")
        return DeliveryResult(item.key, "sent", item.message_id, str(target))


def _write_atomically(target: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `target`, sync it, and rename it into place."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
