"""Fixtures of the privacy tests: the API test site (`api.site`) and a recorded segment of
the real clip with its tracked boxes, and that segment recorded by the site's cam1
(`playback_helpers`)."""

from playback_helpers import real_segment, recorded  # noqa: F401

from api.site import site  # noqa: F401
