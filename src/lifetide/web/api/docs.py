"""The API's own description, for signed-in users only: /openapi.json and a plain /docs page.

Swagger UI would load its scripts from a CDN, which the Studio never does; /docs is instead a
server-rendered list of the operations, linking to /openapi.json for tools.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from lifetide.web.security import ApiViewer, PageViewer

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


@router.get("/openapi.json")
def openapi(request: Request, _viewer: ApiViewer) -> JSONResponse:
    """The OpenAPI schema of the management API."""
    return JSONResponse(request.app.openapi())


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request, _viewer: PageViewer) -> HTMLResponse:
    """Every operation of the API with its summary, on one page without scripts."""
    schema: dict[str, Any] = request.app.openapi()
    rows = []
    for path, operations in schema.get("paths", {}).items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            summary = operation.get("summary") or ""
            description = (operation.get("description") or "").strip().splitlines()
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}</code></td>"
                f"<td>{escape(summary)}</td><td>{escape(description[0] if description else '')}"
                "</td></tr>"
            )
    title = escape(f"{schema['info']['title']} API {schema['info']['version']}")
    page = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>The schema for tools: <a href=/openapi.json>/openapi.json</a>."
        " Send <code>Authorization: Bearer &lt;API token&gt;</code> from scripts.</p>"
        "<table><thead><tr><th>method</th><th>path</th><th>summary</th><th>what it does</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>"
    )
    return HTMLResponse(page)
