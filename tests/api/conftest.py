"""The `site` and `events` fixtures of the API tests (`api.site`)."""

from api.site import events, site  # noqa: F401
