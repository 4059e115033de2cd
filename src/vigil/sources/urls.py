"""Stream URLs: which are network sources, and how to show them without credentials."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

#: Parameter names that carry credentials in camera URLs, as a part of the name:
#: ``?user=admin&password=...``, ``?loginuse=admin&loginpas=...``, ``;pwd=...``, ``?usr=``.
#: Matching parts rather than whole names removes a harmless parameter now and then
#: (``?keyframe=1``) rather than ever showing a secret.
_SECRET_NAME = re.compile(r"user|usr|login|pass|pwd|token|secret|key|auth|sig|cred", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
#: What may follow the ``@`` that ends credentials: a host (name, IPv4 or [IPv6]) and port.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(:[0-9]*)?")
#: A path parameter: ``;name=value`` (``rtsp://cam/live;user=admin;password=x``).
_PATH_PARAM = re.compile(r";([^;=/?#]*)=[^;/?#]*")


def _secret(name: str) -> bool:
    return _SECRET_NAME.search(unquote_plus(name)) is not None


def _credentials_end(url: str, start: int) -> int | None:
    """The index of the ``@`` that ends ``user:password@``, or None. The password may hold
    any of ``/ ? # @`` unescaped, so it is the last ``@`` that a host follows; when in doubt
    more is removed rather than less."""
    at = len(url)
    while (at := url.rfind("@", start, at)) >= 0:
        host = re.split(r"[/?#]", url[at + 1 :], maxsplit=1)[0]
        if _HOST.fullmatch(host):
            return at
    return None


def redact_url(url: str) -> str:
    """`url` without credentials: no ``user:password@`` and no secret query or path
    parameters (separated by ``&`` or ``;``). Plain file paths come back unchanged."""
    if not _SCHEME.match(url):
        return url
    start = url.index("://") + 3
    at = _credentials_end(url, start)
    if at is not None:
        url = url[:start] + url[at + 1 :]
    rest, hashmark, fragment = url.partition("#")
    head, _, query = rest.partition("?")
    head = url[:start] + _PATH_PARAM.sub(
        lambda m: "" if _secret(m.group(1)) else m.group(0), head[start:]
    )
    kept = [p for p in re.split(r"[&;]", query) if p and not _secret(p.split("=", 1)[0])]
    return head + ("?" + "&".join(kept) if kept else "") + hashmark + fragment
