"""What a request body may be, checked before any route reads it.

`BodyGuard` (ASGI middleware) caps each route's body: a ``Content-Length`` above the cap is
answered 413 before a byte of the body is read, and a body without one (chunked) is counted
as it streams in and refused as soon as it passes the cap, so nobody can make the service
buffer more than the cap. A JSON body must also be strict JSON: ``NaN``, ``Infinity``,
numbers out of the float range (``1e999999``) and lone surrogates (``"\\ud800"``) are
refused with a 422, instead of reaching models, the database or a renderer that cannot
encode them.

`safe_validation_errors` answers FastAPI's 422 with the input it echoes made encodable, so a
validation error is never a 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BODY_CAPS", "DEFAULT_CAP", "BodyGuard", "BodyTooLarge", "safe_validation_errors"]

#: (path prefix, most bytes of a request body); the longest matching prefix applies.
BODY_CAPS: tuple[tuple[str, int], ...] = (
    ("/api/auth/", 8 * 1024),  # a user name and two passwords of at most 1024 characters
    ("/api/users", 128 * 1024),  # a user with up to 1000 camera ids
    ("/api/cameras/", 1024 * 1024),  # a camera's zones, lines and apps with their settings
)
DEFAULT_CAP = 64 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(HTTPException):
    """FastAPI's own kind, so that a route reading the body passes it on as a 413."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"request body too large: at most {cap} bytes here")


class _NotStrictJSON(ValueError):
    pass


class BodyGuard:
    """Caps request bodies per route (`caps`, else `default`) and refuses JSON bodies that
    are not strict JSON; everything else passes through untouched."""

    def __init__(
        self,
        app: ASGIApp,
        caps: Sequence[tuple[str, int]] = BODY_CAPS,
        default: int = DEFAULT_CAP,
    ) -> None:
        self.app = app
        self.caps = sorted(caps, key=lambda c: len(c[0]), reverse=True)
        self.default = default

    def cap(self, path: str) -> int:
        return next((cap for prefix, cap in self.caps if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap(scope["path"])
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"").strip()
        if length.isdigit() and int(length) > cap:
            await _answer(send, BodyTooLarge(cap).status_code, BodyTooLarge(cap).detail)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(cap)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            if scope["method"] in _BODY_METHODS and _is_json(headers.get(b"content-type")):
                body = await _read(counted)
                if body:
                    try:
                        _check_strict(body)
                    except _NotStrictJSON as err:
                        await _answer(send, 422, f"request body is not valid JSON: {err}")
                        return
                await self.app(scope, _replay(body, receive), watched)
            else:
                await self.app(scope, counted, watched)
        except BodyTooLarge as err:
            if started:
                raise
            await _answer(send, err.status_code, err.detail)


def _is_json(content_type: bytes | None) -> bool:
    """FastAPI reads a body without a content type as JSON too."""
    if not content_type:
        return True
    kind = content_type.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body again, then whatever the client sends next (its disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _refuse_constant(name: str) -> Any:
    raise _NotStrictJSON(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotStrictJSON(f"{text[:40]} is out of range")
    return value


def _check_strict(body: bytes) -> None:
    """Raise `_NotStrictJSON` unless `body` is strict JSON (leaves malformed JSON to the
    route, which words that itself)."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite)
    except _NotStrictJSON:
        raise
    except RecursionError:
        raise _NotStrictJSON("nested too deeply") from None
    except ValueError as err:  # malformed, or an integer of more than 4300 digits
        if isinstance(err, json.JSONDecodeError):
            return
        raise _NotStrictJSON(str(err).split(";")[0]) from None
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            _encodable(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                _encodable(key)
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)


def _encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _NotStrictJSON(
            "a string holds a lone surrogate (an unpaired \\uD800-\\uDFFF)"
        ) from None


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _encodable_json(value: Any) -> Any:
    """`value` (from `jsonable_encoder`) as strict, UTF-8-encodable JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable_json(k): _encodable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encodable_json(v) for v in value]
    return value


async def safe_validation_errors(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 (``{"detail": [errors]}``), whatever input the errors echo."""
    assert isinstance(exc, RequestValidationError)
    errors = _encodable_json(jsonable_encoder(exc.errors()))
    return JSONResponse({"detail": errors}, status_code=422)
