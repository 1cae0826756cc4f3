"""Path and query parameters that are database ids: 1 to 2**63 - 1.

An id past a signed 64-bit integer would overflow the database driver (a 500); declared with
these bounds, it is refused with 422 before any query runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="An id (1 to 2**63 - 1).")]
