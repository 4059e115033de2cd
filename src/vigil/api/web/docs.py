"""``/docs``: the API's interactive documentation, Swagger UI served from this process.

FastAPI's own ``/docs`` (and ``/redoc``) load their scripts from a CDN, so the page stays blank
on a site without internet; this one uses the copy vendored by ``scripts/vendor_web.sh`` and
the dashboard's Content-Security-Policy (this site's files only).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse

from vigil.service.web.pages import _SECURITY_HEADERS

__all__ = ["api_docs"]

_DOCS_HTML = (Path(__file__).parent / "templates" / "docs.html").read_text("utf-8")


async def api_docs(request: Request) -> HTMLResponse:
    """The Swagger UI page (public, like FastAPI's: the schema it loads holds no data)."""
    return HTMLResponse(_DOCS_HTML, headers=_SECURITY_HEADERS)
