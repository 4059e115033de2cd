"""What a reconfiguration changed in a camera's scene: which zones and lines moved, and
which apps refer to them (those are built again: apps take their shapes when built)."""

from __future__ import annotations

from typing import Any


def changed_shapes(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """Names of the shapes added, removed or moved."""
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


def mentions(settings: Any, names: set[str]) -> bool:
    """Whether any string in `settings` (nested) is one of `names`: an app that refers to a
    zone or line that moved is built again (apps take their shapes when built)."""
    if isinstance(settings, str):
        return settings in names
    if isinstance(settings, dict):
        return any(mentions(v, names) for v in settings.values())
    if isinstance(settings, (list, tuple)):
        return any(mentions(v, names) for v in settings)
    return False
