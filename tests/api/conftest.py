"""The `site` and `events` fixtures of the API tests (`api.site`), and `privacy_site`
(`api.privacy_site`)."""

from api.privacy_site import privacy_site  # noqa: F401
from api.site import events, site  # noqa: F401
