"""The Vigil configuration schema (pydantic v2).

Every model forbids unknown keys, so a typo such as `detector.confidnce` is an error
rather than a silently ignored setting. Validators raise `ValueError` with a message that
already names the bad value; `vigil.config.loader.format_validation_error` turns the
resulting `ValidationError` into one line that also names the file and the key path.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from vigil.detection.providers import Device
from vigil.geometry.shapes import Line, Zone
from vigil.motion.detector import MotionSettings
from vigil.sources.hwaccel import HwAccelName
from vigil.tracking.tracker import TrackerSettings

__all__ = [
    "AppConfig",
    "ClassSpec",
    "ConfigDocument",
    "DetectorConfig",
    "LineConfig",
    "MAX_NAME",
    "NAME_PATTERN",
    "Name",
    "OutputConfig",
    "Point",
    "SceneConfig",
    "SourceConfig",
    "VigilConfig",
    "PolygonConfig",
    "ZoneConfig",
]

DEFAULT_CLASSES: tuple[str, ...] = ("person", "bicycle", "car", "motorcycle", "bus", "truck")


def _coco_names() -> Sequence[str] | None:
    """The 80 COCO class names, or None while `vigil.detection.classes` is unavailable.

    Imported lazily so that the config package does not depend on the detection package
    at import time; with None, class names are accepted unchecked and ids need only be >= 0.
    """
    try:
        from vigil.detection.classes import COCO_CLASSES
    except ImportError:
        return None
    return tuple(COCO_CLASSES)


def _plain(value: Any) -> Any:
    """Values as the user wrote them: 1.0 -> 1, tuples -> lists."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _show(value: Any, limit: int = 60) -> str:
    text = repr(_plain(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- names

MAX_NAME = 64


def check_name(value: str) -> str:
    """A name as it may be drawn on frames, put in topics, paths, logs and JSON: 1 to
    `MAX_NAME` printable characters (no control characters, no lone surrogates) and not only
    spaces."""
    if not value.strip():
        raise ValueError(f"must not be empty, got {value!r}")
    if len(value) > MAX_NAME:
        raise ValueError(f"must be at most {MAX_NAME} characters, got {len(value)}")
    if not value.isprintable():
        raise ValueError(f"must be printable text, got {value!r}")
    return value


#: `check_name` as an ECMAScript regular expression, published as the `pattern` of every name
#: in the API's JSON Schema so that the dashboard checks names as the server does. Python's
#: printable characters are exactly those outside Unicode's Other (C*) and Separator (Z*)
#: categories, plus the ASCII space; the lookahead refuses a name of spaces only.
NAME_PATTERN = rf"^(?! *$)(?:[^\p{{C}}\p{{Z}}]| ){{1,{MAX_NAME}}}$"

Name = Annotated[
    str,
    AfterValidator(check_name),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME,
            "pattern": NAME_PATTERN,
            "description": f"1 to {MAX_NAME} printable characters, not only spaces",
        }
    ),
]
"""Every name that enters from outside: camera ids, zone, line and app names, user names."""

# --------------------------------------------------------------------------- classes


def _check_classes(value: Any) -> Any:
    """`None` (all classes) or a non-empty list of COCO names and/or ids."""
    if value is None:
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]  # a single class written without brackets
    if not isinstance(value, list):
        raise ValueError(f"must be a list of class names or ids, got {_show(value)}")
    if not value:
        raise ValueError("must not be empty (leave it out or use null for all classes)")
    names = _coco_names()
    out: list[str | int] = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise ValueError(f"item {i} must be a class name or id, got {_show(item)}")
        if isinstance(item, int):
            upper = len(names) if names is not None else None
            if item < 0 or (upper is not None and item >= upper):
                bound = f"0..{upper - 1}" if upper is not None else ">= 0"
                raise ValueError(f"class id must be {bound}, got {item}")
        elif names is not None and item not in names:
            close = difflib.get_close_matches(item, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown COCO class {item!r}{hint}")
        out.append(item)
    return out


ClassSpec = Annotated[list[str | int] | None, BeforeValidator(_check_classes)]
"""Class filter: None for all classes, else COCO names (``"person"``) and/or ids (``0``)."""


# --------------------------------------------------------------------------- geometry


def _check_point(value: Any) -> Any:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(_is_number(v) for v in value)
    ):
        raise ValueError(f"point must be [x, y] with two numbers, got {_show(value)}")
    if value[0] < 0 or value[1] < 0:
        raise ValueError(f"point coordinates must be >= 0, got {_show(value)}")
    return value


Point = Annotated[tuple[float, float], BeforeValidator(_check_point)]
"""``[x, y]``: pixels, or normalised to 0..1 of the frame width and height."""


def _name_key(section: str, key: Any) -> Any:
    """Zone/line names as strings: YAML reads `1:` as an int (fine: "1") and `no:` or
    `on:` as a boolean (an error, since the name was almost certainly meant as text)."""
    if isinstance(key, bool):
        raise ValueError(
            f"{section}: a name was read as the YAML boolean {str(key).lower()} "
            "(from yes/no/on/off/true/false); quote it, e.g. 'no':"
        )
    if isinstance(key, (int, float)):
        return str(key)
    return key


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolygonConfig(_Model):
    """A polygon, in pixels or normalised 0..1 (a static privacy mask)."""

    model_config = ConfigDict(extra="forbid")

    points: list[Point]

    @field_validator("points")
    @classmethod
    def _polygon(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        Zone("zone", tuple(points))  # the geometry decides what a valid polygon is
        return points

    def to_zone(self, name: str) -> Zone:
        return Zone(name, tuple(self.points))


class ZoneConfig(PolygonConfig):
    """A polygon zone, in pixels or normalised 0..1; apps choose which classes they watch."""

    ground: list[tuple[float, float]] | None = None
    """Calibration for real distances and speeds: the zone's four points measured on the
    ground, in metres ([x, y] each, same order as `points`)."""

    @model_validator(mode="after")
    def _calibration(self) -> ZoneConfig:
        if self.ground is not None:
            try:
                self.to_zone("zone")
            except ValueError as error:
                raise ValueError(f"ground: {error}") from None
        return self

    def to_zone(self, name: str) -> Zone:
        ground = None if self.ground is None else tuple(self.ground)
        return Zone(name, tuple(self.points), ground=ground)


class LineConfig(_Model):
    """A line from `start` to `end`; crossing it left to right of start→end counts as "in"."""

    model_config = ConfigDict(extra="forbid")

    start: Point
    end: Point

    @field_validator("end")
    @classmethod
    def _non_degenerate(cls, end: tuple[float, float], info: ValidationInfo) -> tuple[float, float]:
        start = info.data.get("start")
        if start is not None:
            Line("line", start, end)
        return end

    def to_line(self, name: str) -> Line:
        return Line(name, self.start, self.end)


# --------------------------------------------------------------------------- sections


class SourceConfig(_Model):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    """File path or rtsp/http URL; None here when the CLI supplies it."""
    id: Name = "cam1"
    detect_fps: float | None = Field(default=None, gt=0)
    """Run detection at most this often (frames per second); None: every frame."""
    loop: bool = False
    hwaccel: HwAccelName = "auto"
    """Decode on a GPU (`cuda`: NVDEC, `vaapi`) where one works, else in software (`none`)."""


class DetectorConfig(_Model):
    model_config = ConfigDict(extra="forbid")

    model: str = "yolox-nano"
    """A model name or a path to an ONNX file."""
    input_size: tuple[int, int] = (320, 320)
    """Largest [width, height] of the network input, multiples of 32 (the largest YOLO stride).
    A frame is letterboxed to the smallest multiple-of-32 shape that holds it (768×576 → 320×256);
    motion-gated crops of that shape see at full resolution."""
    classes: ClassSpec = list(DEFAULT_CLASSES)
    confidence: float = Field(default=0.1, gt=0, lt=1)
    """Low on purpose: the tracker's second pass associates low-score boxes."""
    nms_iou: float = Field(default=0.65, gt=0, le=1)
    threads: int = Field(default=1, ge=1)
    """CPU threads inside one inference; a small model gains little from more than one."""
    workers: int = Field(default=2, ge=1)
    """Frames detected in parallel, each on its own thread (about one per CPU core)."""
    decoder: Literal["auto", "yolox", "yolov8"] = "auto"
    device: Device = "auto"
    """Where inference runs, through ONNX Runtime's execution providers: `auto` takes the best
    one installed (tensorrt > cuda > openvino > cpu); naming one that is missing is an error."""

    @field_validator("input_size", mode="before")
    @classmethod
    def _stride_multiple(cls, value: Any) -> Any:
        ok = (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and all(v > 0 and v % 32 == 0 for v in value)
        )
        if not ok:
            raise ValueError(
                f"must be [width, height], positive multiples of 32, got {_show(value)}"
            )
        return value


class AppConfig(_Model):
    """One analytics app; `settings` are validated by the app registry, not here."""

    model_config = ConfigDict(extra="forbid")

    type: Name
    name: Name | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    """A disabled app is still validated (so enabling it later cannot fail) but does not run."""

    @field_validator("settings", mode="before")
    @classmethod
    def _null_settings(cls, value: Any) -> Any:
        return {} if value is None else value  # `settings:` with everything commented out


class OutputConfig(_Model):
    model_config = ConfigDict(extra="forbid")

    directory: Path | None = None
    """Where a run's files go; default ``runs/<source name>``."""
    video: bool = True
    """Write ``annotated.mp4``: boxes, track ids, zones, lines and live counts."""
    mot: Path | None = None
    """Also write the tracks as a MOTChallenge file."""
    mot_classes: ClassSpec = ["person"]
    """Classes written to the MOT file (MOTChallenge scores pedestrians)."""
    database: str | None = None
    """Events database: SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://...``) or a
    file path; default ``<directory>/events.db``."""


class SceneConfig(_Model):
    """What a camera looks at: named zones and lines, and the apps that watch them."""

    zones: dict[Name, ZoneConfig] = Field(default_factory=dict)
    lines: dict[Name, LineConfig] = Field(default_factory=dict)
    apps: list[AppConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _null_sections(cls, data: Any) -> Any:
        # `zones:` with every entry commented out parses as null: treat it as absent.
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if v is not None or k not in cls.model_fields}
        for section in ("zones", "lines"):
            if isinstance(data.get(section), dict):
                data[section] = {_name_key(section, k): v for k, v in data[section].items()}
        return data

    @model_validator(mode="after")
    def _unique_app_names(self) -> SceneConfig:
        # Errors raised here have no location of their own, so messages carry the key path.
        seen: dict[str, int] = {}
        for i, app in enumerate(self.apps):
            if app.name is None:
                continue
            if app.name in seen:
                raise ValueError(
                    f"apps[{i}].name: duplicate app name {app.name!r} (also apps[{seen[app.name]}])"
                )
            seen[app.name] = i
        return self


class ConfigDocument(_Model):
    """A whole configuration file; the loader records where it came from."""

    # Set by the loader: the file the config came from (for error messages about app
    # settings validated later) and the raw `${VAR}` text of substituted values.
    _file: str | None = PrivateAttr(default=None)
    _originals: dict[tuple[str | int, ...], str] = PrivateAttr(default_factory=dict)

    @property
    def file(self) -> str | None:
        """The configuration file this was loaded from, or None."""
        return self._file


class VigilConfig(SceneConfig, ConfigDocument):
    """`vigil run`: one source, its scene, and where the outputs go."""

    source: SourceConfig = Field(default_factory=SourceConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    motion: MotionSettings = Field(default_factory=MotionSettings)
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    output: OutputConfig = Field(default_factory=OutputConfig)
