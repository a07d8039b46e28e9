"""The web portal: static HTML, JavaScript modules and CSS served by the API app under ``/portal``.

The pages call the same REST API with the user's Bearer token (kept in the browser's
``sessionStorage``); the shell itself needs no authentication. :func:`mount` adds the routes to an
app; :func:`qvalley.cloud.api.create_app` calls it.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

PORTAL_DIR = Path(__file__).resolve().parent / "static"
PREFIX = "/portal"

# Hosts without a MIME database guess nothing for .css; browsers refuse stylesheets and module
# scripts served as text/plain, so the types are registered explicitly.
for _ext, _type in ((".js", "text/javascript"), (".css", "text/css"), (".html", "text/html"),
                    (".svg", "image/svg+xml")):
    mimetypes.add_type(_type, _ext)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class _PortalFiles(StaticFiles):
    """Static files with a strict content security policy and revalidation on every load."""

    async def get_response(self, path: str, scope: Any) -> Any:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def mount(app: FastAPI) -> None:
    """Serve the portal at ``/portal/`` and redirect ``/`` there."""

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    app.mount(PREFIX, _PortalFiles(directory=PORTAL_DIR, html=True), name="portal")


__all__ = ["PORTAL_DIR", "PREFIX", "mount"]
