"""User-facing errors: each carries one line that names the problem (file, key, value)."""

from __future__ import annotations

from collections.abc import Iterable


def format_key_path(loc: Iterable[object]) -> str:
    """``("zones", "door", "points", 1)`` -> ``zones.door.points[1]``. A mapping key YAML
    read as another type (``0.62:``, ``null:``) is shown as written, in brackets."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not isinstance(part, str):
            out += f"[{part!r}]"
        elif part == "[key]":  # pydantic's marker for a bad dict key
            out += " (key)"
        elif not part.isprintable() or part != part.strip():  # a bad name: show it quoted
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def one_line(text: object, limit: int = 300) -> str:
    """`text` on one line of at most `limit` printable characters (for a log line or a
    status: an app's error text may hold terminal escapes or lone surrogates)."""
    line = " ".join(str(text)[: 4 * limit].split())
    line = line if len(line) <= limit else line[: limit - 1] + "…"
    return "".join(c if c.isprintable() else "?" for c in line)


class VigilError(Exception):
    """An error the CLI reports as one line and exit code 2, never a traceback."""


class ConfigError(VigilError):
    """The YAML configuration is malformed or invalid."""


class SourceError(VigilError):
    """A video source is missing, empty, undecodable or unreachable."""


class ModelError(VigilError):
    """A model file is missing or has unexpected inputs/outputs."""
