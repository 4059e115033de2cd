"""The HTTP API of `vigil serve` (FastAPI): `vigil.api.app.create_app` builds it."""
