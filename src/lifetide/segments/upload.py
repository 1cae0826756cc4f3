"""Reading an uploaded list of identifiers: a CSV file's `identifier` or `email` column, or text.

What the identifiers mean (e-mails, record ids, profile ids) is `membership.resolve_identifiers`'
business; here they are only read, with errors that say what is wrong and where.
"""

from __future__ import annotations

import csv
import io

CSV_COLUMNS = ("identifier", "email")


class UploadError(ValueError):
    """An uploaded list that cannot be read; the message says what is wrong and where."""


def identifiers_from_csv(content: bytes) -> list[str]:
    """The `identifier` (else `email`) column of a UTF-8 CSV file, blank cells skipped."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UploadError(
            f"the file is not UTF-8 text (byte {err.start + 1} is not); save it as CSV UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise UploadError("the file is empty: its first line should be a header, 'identifier'")
        names = [h.strip().lower() for h in header]
        column = next((names.index(c) for c in CSV_COLUMNS if c in names), None)
        if column is None:
            found = ", ".join(repr(h.strip()) for h in header if h.strip())
            raise UploadError(
                "the CSV's header (its first line) needs a column called 'identifier' or "
                f"'email'; it has {found}"
            )
        return [row[column].strip() for row in reader if len(row) > column and row[column].strip()]
    except csv.Error as err:
        raise UploadError(f"the CSV cannot be read at line {reader.line_num}: {err}") from None


def identifiers_from_text(text: str) -> list[str]:
    """One identifier a line, trimmed, blank lines skipped; a first line 'email' is a header."""
    lines = [line.strip() for line in text.splitlines()]
    found = [line for line in lines if line]
    if found and found[0].lower() in CSV_COLUMNS:
        found = found[1:]
    return found
