"""Stream URLs: which are network sources, and how to show them without credentials."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters that carry credentials in camera URLs (``?user=admin&password=...``).
_SECRET_PARAMS = re.compile(
    r"^(user(name)?|login|pass(word|wd)?|pwd|token|access_token|api_?key|key|secret|auth|"
    r"authorization|sig(nature)?|credentials?)$",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def redact_url(url: str) -> str:
    """`url` without credentials: no ``user:password@`` and no secret query parameters.

    Plain file paths come back unchanged. When in doubt (a password with an unescaped ``/``
    or ``@``), more is removed rather than less.
    """
    if not _SCHEME.match(url):
        return url
    scheme_end = url.index("://") + 3
    before_query = url.split("?", 1)[0].split("#", 1)[0]
    at = before_query.rfind("@")
    if at >= scheme_end:  # userinfo, even one whose password holds '/' or '@'
        url = url[:scheme_end] + url[at + 1 :]
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:scheme_end] + "…"
    if not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    cleaned = [(k, v) for k, v in kept if not _SECRET_PARAMS.match(k)]
    if len(cleaned) == len(kept):
        return url
    return urlunsplit(parts._replace(query=urlencode(cleaned)))
