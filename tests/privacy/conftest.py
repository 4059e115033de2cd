"""Fixtures of the privacy tests: the API test site (`api.site`) and a recorded segment of
the real clip with its tracked boxes (`playback_helpers`)."""

from playback_helpers import real_segment  # noqa: F401

from api.site import site  # noqa: F401
