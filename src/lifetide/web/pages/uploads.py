"""Uploading a static list in the Studio: a CSV file or pasted identifiers become a segment.

The form posts back here (multipart, with the session's CSRF token). A saved list goes to its
segment page with the match counts as a flash message; the identifiers that matched nobody ride
along in a short-lived cookie for that page only, as a flash message holds one short line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, unquote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from lifetide.segments.service import SegmentError, SegmentService, StaticResult
from lifetide.segments.upload import UploadError, identifiers_from_csv, identifiers_from_text
from lifetide.web.security import Viewer, require
from lifetide.web.templating import flash, render

router = APIRouter(include_in_schema=False)
MAX_UPLOAD_BYTES = 20 * 2**20
# What Starlette accepts in one form field that is not a file: the pasted list.
MAX_TEXT_BYTES = 2**20
# Past this the request is refused before its body is read (the form and headers are small).
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 2**20
UNMATCHED_COOKIE = "lifetide_unmatched"
UNMATCHED_SHOWN = 20
# Browsers drop cookies over 4 KB: fewer identifiers are shown rather than none.
UNMATCHED_COOKIE_BYTES = 3000
UNMATCHED_CHARS = 80


def _not_too_large(request: Request) -> None:
    """413 before the body is read when it says it is larger than an upload may be."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_REQUEST_BYTES:
        raise HTTPException(
            413, f"the upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB; split the list"
        )


# The size check comes first: the sign-in check reads the form (for its CSRF token).
SizeChecked = Annotated[None, Depends(_not_too_large)]
Writer = Annotated[Viewer, Depends(require("segments.write", page=True))]


@dataclass(frozen=True)
class Unmatched:
    """Identifiers of an upload that matched no profile: the first few and how many in all."""

    shown: list[str]
    total: int

    @property
    def more(self) -> int:
        """How many are not shown."""
        return self.total - len(self.shown)


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def _upload_page(
    request: Request,
    viewer: Viewer,
    form: dict[str, str] | None = None,
    error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    shown = form or {"name": "", "description": "", "text": "", "mode": "file"}
    return render(
        request,
        "segments/upload.html",
        viewer,
        status_code=status_code,
        form=shown,
        error=error,
        upload_data={
            "max_bytes": MAX_UPLOAD_BYTES,
            "max_text_bytes": MAX_TEXT_BYTES,
            "mode": shown["mode"],
            "text": shown["text"],
        },
        max_mb=MAX_UPLOAD_BYTES // 2**20,
    )


@router.get("/segments/upload", response_class=HTMLResponse)
def upload_form(request: Request, viewer: Writer) -> HTMLResponse:
    """The form to make a static segment from a CSV file or a pasted list."""
    return _upload_page(request, viewer)


@router.post("/segments/upload", response_model=None)
async def upload_list(request: Request, _size: SizeChecked, viewer: Writer) -> Response:
    """Save the list as a static segment and go to it; the form again, 422, if refused."""
    data = await request.form()
    fields = {key: _field(data.get(key)) for key in ("name", "description", "text")}
    upload = data.get("file")
    file = upload if isinstance(upload, UploadFile) and (upload.filename or upload.size) else None
    typed = fields["text"].strip()
    form = {**fields, "mode": "text" if typed and file is None else "file"}

    def refused(message: str, status_code: int = 422) -> HTMLResponse:
        return _upload_page(request, viewer, form, message, status_code)

    if not fields["name"].strip():
        return refused("Give the list a name.")
    if file is not None and typed:
        return refused("Give a CSV file or a pasted list, not both.")
    if file is None and not typed:
        return refused("Choose a CSV file, or paste identifiers, one a line.")
    if file is not None:
        size = file.size or 0
        if size > MAX_UPLOAD_BYTES:
            return refused(
                f"The file is {_megabytes(size)}; a list may be at most "
                f"{MAX_UPLOAD_BYTES // 2**20} MB. Split it into smaller files.",
                413,
            )
        content = await file.read()
        try:
            identifiers = identifiers_from_csv(content)
        except UploadError as err:
            return refused(f"{file.filename or 'The file'}: {as_sentence(str(err))}")
        if not identifiers:
            return refused(f"{file.filename or 'The file'}: the identifier column is empty.")
    else:
        identifiers = identifiers_from_text(typed)
        if not identifiers:
            return refused("The pasted list holds no identifiers, only a header.")
    service = SegmentService(request.app.state.lifetide)
    try:
        result = await run_in_threadpool(
            service.create_static,
            fields["name"],
            identifiers,
            viewer.user,
            fields["description"].strip() or None,
        )
    except SegmentError as err:
        return refused(as_sentence(str(err)))
    return _saved(request, result)


def _field(value: object) -> str:
    return value if isinstance(value, str) else ""


def as_sentence(text: str) -> str:
    """A service's message ('a segment called ...') as a sentence for the page."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def _saved(request: Request, result: StaticResult) -> RedirectResponse:
    segment = result.segment
    response = RedirectResponse(f"/segments/{segment.id}", status_code=303)
    missing = len(result.unmatched)
    flash(
        request,
        response,
        f"Uploaded “{segment.name}”: {result.matched:,} of {result.identifiers:,} matched; "
        f"{missing:,} not found.",
        "info" if missing else "success",
    )
    if missing:
        remember_unmatched(request, response, segment.id, result.unmatched)
    return response


def _cookie_path(segment_id: int) -> str:
    return f"/segments/{segment_id}"


def remember_unmatched(
    request: Request, response: Response, segment_id: int, unmatched: list[str]
) -> None:
    """Keep the first unmatched identifiers for the segment's page, for a minute."""
    shown = [
        text if len(text) <= UNMATCHED_CHARS else text[: UNMATCHED_CHARS - 1] + "…"
        for text in unmatched[:UNMATCHED_SHOWN]
    ]
    while True:
        data = {"segment": segment_id, "total": len(unmatched), "shown": shown}
        payload = quote(json.dumps(data))
        if len(payload) <= UNMATCHED_COOKIE_BYTES or not shown:
            break
        shown.pop()
    response.set_cookie(
        UNMATCHED_COOKIE,
        payload,
        max_age=60,
        path=_cookie_path(segment_id),
        secure=bool(request.app.state.lifetide.settings.resolved_cookie_secure),
        httponly=True,
        samesite="lax",
    )


def unmatched_of(request: Request, segment_id: int) -> Unmatched | None:
    """The unmatched identifiers of the upload that just made segment `segment_id`, if any."""
    raw = request.cookies.get(UNMATCHED_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(unquote(raw))
        if data["segment"] != segment_id:
            return None
        shown = [str(item) for item in data["shown"]]
        return Unmatched(shown, max(int(data["total"]), len(shown)))
    except (ValueError, KeyError, TypeError):
        return None


def forget_unmatched(request: Request, response: Response, segment_id: int) -> None:
    """Clear the unmatched identifiers once their page has shown them."""
    response.delete_cookie(
        UNMATCHED_COOKIE,
        path=_cookie_path(segment_id),
        secure=bool(request.app.state.lifetide.settings.resolved_cookie_secure),
        httponly=True,
        samesite="lax",
    )
