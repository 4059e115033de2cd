"""Event attributes are plain JSON data from the moment the event is made (`json_value`, the
one converter of attribute values), so no later stage converts them again."""

from __future__ import annotations

import enum
import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from vigil.events.event import Event, json_value, storable_event


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def event(**attributes: object) -> Event:
    return Event("cam1", "app", "thing", 1.0, 10, attributes=attributes)


def test_attributes_are_plain_json_when_the_event_is_made() -> None:
    made = event(
        conf=np.float32(0.5), box=np.array([1, 2, 3, 4], np.int64), n=np.int64(7),
        ok=np.bool_(True), ids={2, 1}, pair=(1, 2.5), at=datetime(2026, 1, 2, tzinfo=UTC),
        file=Path("/rec/a.mp4"), colour=Colour.RED, level=Level.HIGH,
        nested={"deep": [np.float64(0.25), {3: "three"}]},
    )  # fmt: skip
    assert made.attributes == {
        "conf": 0.5, "box": [1, 2, 3, 4], "n": 7, "ok": True, "ids": [1, 2], "pair": [1, 2.5],
        "at": "2026-01-02T00:00:00+00:00", "file": "/rec/a.mp4", "colour": "red", "level": 3,
        "nested": {"deep": [0.25, {"3": "three"}]},
    }  # fmt: skip
    plain = (dict, list, str, int, float, bool, type(None))

    def types(value: object) -> set[type]:
        inner = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            return {type(value)}.union(*(types(v) for v in inner))
        return {type(value)}

    assert types(made.attributes) <= set(plain)
    assert json.loads(json.dumps(made.attributes)) == made.attributes  # no `default` needed
    assert replace(made, state="end").attributes == made.attributes  # made again: unchanged


def test_what_is_not_json_is_refused_when_made() -> None:
    with pytest.raises(TypeError, match="object is not JSON serialisable"):
        event(bad=object())
    looped: dict[str, object] = {}
    looped["self"] = looped
    with pytest.raises(ValueError, match="nest too deep"):
        event(looped=looped)


def test_invalid_json_is_kept_for_the_boundary_to_refuse() -> None:
    """NaN and lone surrogates stay as the app gave them: `storable_event` (the app
    boundary) refuses such an event; the store writes them replaced."""
    made = event(score=float("nan"), name="\ud800")
    assert math.isnan(made.attributes["score"]) and made.attributes["name"] == "\ud800"
    with pytest.raises(ValueError, match="not storable JSON"):
        storable_event(made)
    assert json_value(made.attributes, replace_invalid=True) == {"score": None, "name": "\ufffd"}
    assert json_value({"\udfffk": [float("inf"), "\ud83d\ude00"]}, replace_invalid=True) == {
        "\ufffdk": [None, "\U0001f600"]  # a pair split in two becomes its character
    }
