"""The Studio's static files: our own CSS and JS, and the few vendor files npm installed.

Vendor files come from `frontend/node_modules` (installed by `scripts/setup` from the lockfile),
never from a CDN, and only those named in `VENDOR_FILES` are served. When they are missing the
pages still render; the server logs once what to run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# src/lifetide/web/pages -> the repository's frontend/ folder.
FRONTEND_DIR = Path(__file__).resolve().parents[4] / "frontend"
NODE_MODULES = FRONTEND_DIR / "node_modules"

# Public name under /static/vendor/ -> file inside node_modules.
VENDOR_FILES: dict[str, str] = {
    "alpine.js": "alpinejs/dist/cdn.min.js",
    "chart.js": "chart.js/dist/chart.umd.min.js",
}
_CACHE = "public, max-age=86400"


def vendor_path(name: str, node_modules: Path = NODE_MODULES) -> Path | None:
    """Where the vendor file published as `name` lives, or None if it is not one of ours."""
    relative = VENDOR_FILES.get(name)
    return None if relative is None else node_modules / relative


def missing_vendor_files(node_modules: Path = NODE_MODULES) -> list[str]:
    """The vendor files that are not installed (empty when `scripts/setup` has run)."""
    return [name for name, rel in VENDOR_FILES.items() if not (node_modules / rel).is_file()]


def check_vendor_files(node_modules: Path = NODE_MODULES) -> bool:
    """Log a clear error naming the fix when vendor files are missing; True if all are there."""
    missing = missing_vendor_files(node_modules)
    if missing:
        log.error(
            "The Studio's front-end files %s are missing from %s: run scripts/setup "
            "(it runs `npm ci --prefix frontend`). Pages render without scripts and charts.",
            ", ".join(missing),
            node_modules,
        )
    return not missing


def assets_router() -> APIRouter:
    """Routes for /static/vendor/<file> and /static/<our file>."""
    router = APIRouter(include_in_schema=False)
    warned: list[bool] = []

    @router.get("/static/vendor/{name}")
    def vendor(name: str) -> FileResponse:
        """One of the vendor files npm installed."""
        path = vendor_path(name)
        if path is None:
            raise HTTPException(404, f"no vendor file {name!r}")
        if not path.is_file():
            if not warned:
                warned.append(True)
                check_vendor_files()
            raise HTTPException(404, f"{name} is not installed: run scripts/setup")
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": _CACHE})

    router.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return router
