"""The web dashboard of `vigil serve`: HTML pages and their static files, in the API's process.

`mount(app, state)` adds the pages (`vigil.service.web.pages`), the static files under
``/static`` (vanilla ES modules, one CSS file, and the vendored Chart.js and vis-timeline of
``scripts/vendor_web.sh``) and `PageGuard`, which sends a browser that opens a page
without a session to ``/login`` (and explains a refused or unknown page in HTML). The pages are shells: everything they show comes from the
JSON API with the user's own session, so the server enforces every permission there; the
pages only hide what a role cannot use.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from vigil.service.state import ServiceState
from vigil.service.web.docs import api_docs
from vigil.service.web.pages import PageGuard, page_router

__all__ = ["STATIC_DIR", "mount"]

STATIC_DIR = Path(__file__).with_name("static")


def mount(app: FastAPI, state: ServiceState) -> None:
    """Serve the dashboard from `app`: pages at ``/``, ``/login``, ..., the API's docs at
    ``/docs`` and ``/static``."""
    app.include_router(page_router(state))
    app.add_route("/docs", api_docs, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(PageGuard)
