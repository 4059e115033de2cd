"""The web dashboard's files: HTML templates and the static files served under ``/static``
(vanilla ES modules, one CSS file, and the vendored Chart.js, vis-timeline and Swagger UI of
``scripts/vendor_web.sh``). The pages themselves are `vigil.api.routes.pages`."""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR", "TEMPLATES_DIR"]

STATIC_DIR = Path(__file__).with_name("static")
TEMPLATES_DIR = Path(__file__).with_name("templates")
