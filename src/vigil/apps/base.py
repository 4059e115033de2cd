"""The Vigil app interface (SDK 1.3.0): how analytics plug into the pipeline.

An *app* turns tracked objects into `Event`s. The pipeline calls it once per analysed frame
with a `FrameContext` and the frame's tracked `Detections`, and once at end of stream.
Third-party apps implement the same interface as the built-in ones.

Writing an app
--------------

    from typing import ClassVar
    import numpy as np
    from vigil.apps import App, AppSettings, ClassName, FrameContext, ZoneName
    from vigil.detection import Detections
    from vigil.events.event import Event

    class Settings(AppSettings):         # pydantic model, unknown keys are rejected
        zone: ZoneName                   # zones/lines/classes are referenced by name
        classes: list[ClassName] = ["person"]

    class CountInZone(App):
        kind = "count_in_zone"           # the `type:` a configuration names
        Settings = Settings
        emits = ("count",)               # every event type `process`/`finish` may emit

        def __init__(self, name, settings, scene):
            super().__init__(name, settings, scene)
            self.zone = scene.zone(settings.zone)             # ValueError if unknown
            self.class_ids = scene.class_ids(settings.classes)

        def process(self, ctx, objects):
            objects = self.select(objects, self.class_ids)
            n = int(self.zone.contains(objects.anchors).sum())
            return [self.event(ctx, "count", attributes={"count": n})] if n else []

Package it as a wheel with an entry point in the ``vigil.apps`` group (``name = "module:Class"``,
the name being the kind) and its manifest, ``vigil-app.json`` (`vigil.apps.manifest`), in the
top-level package, e.g. in ``pyproject.toml``:

    [project.entry-points."vigil.apps"]
    count_in_zone = "my_package.apps:CountInZone"

    [tool.setuptools.package-data]
    my_package = ["vigil-app.json"]

``vigil apps new NAME`` creates such a project; ``vigil store publish`` signs it into a catalog
and ``vigil apps install`` installs it, sandboxed (docs/apps.md). The SDK is this module's
public names (import them from `vigil.apps`) plus `vigil.detection.detections.Detections`,
`vigil.events.event.Event`, `vigil.geometry.shapes.Zone` and `vigil.geometry.shapes.Line`; it
follows semantic versioning (`SDK_VERSION`) and an app's manifest states the versions it needs
(``"sdk": ">=1.0,<2"``).

Contract
--------
* ``kind`` (str): registry key. ``Settings``: a pydantic model (subclass `AppSettings`, which
  sets ``extra="forbid"``); the registry validates the user's settings with it, so every
  field needs a sensible default or is required. A field naming a zone, line or class is
  typed `ZoneName`, `LineName` or `ClassName` (``list[ClassName]``, ``ZoneName | None``…):
  its JSON Schema says so (``"x-vigil-ref": "zone"``), and Vigil checks the name against the
  camera's scene when a configuration names the app, also for a sandboxed store app (whose
  class it never loads). ``emits``: the event types the app emits.
  ``needs_pixels``: set True only if the app reads ``ctx.image`` (otherwise it is None).
  ``sdk_version``: the SDK version the app was written against (a manifest generated from
  the class requires its major version); the registry refuses an in-process app whose major
  version differs from `SDK_VERSION`.
* ``__init__(name, settings, scene)``: ``name`` is the instance name from the config (it goes
  into ``Event.app``); ``settings`` is a validated ``Settings`` instance; ``scene`` is the
  `Scene` (frame size, zones and lines resolved to pixels, class names). Raise `ValueError`
  for a bad reference (unknown zone, line or class) — `Scene` helpers already do.
* ``process(ctx, objects) -> list[Event]``: called for every analysed frame, in order, with
  the tracked objects of the frame (``tracker_id >= 0``; ``xyxy`` in pixels, ``class_id``,
  ``confidence``). Must not modify ``objects``. Should be fast: vectorise with numpy.
* ``finish(ctx) -> list[Event]``: end of stream (``ctx`` is the last frame's context); end any
  open long-lived events. Default: no events.
* ``counters() -> dict[str, float]``: live numbers for the overlay and the run summary.
* State across restarts (optional, SDK 1.2): an app whose state is worth keeping when its
  camera's worker restarts or the camera moves to another node (totals, a peak) sets
  ``restorable = True`` and implements ``snapshot() -> dict`` (its state as JSON data, at
  most `MAX_STATE_BYTES` encoded) and ``restore(state)``. Vigil saves each camera's
  snapshots about every 10 s while they change and when the worker stops cleanly, and hands
  a new instance of the same app (same instance name, ``kind`` and ``state_version``) its
  last snapshot once, after ``__init__`` and before the first frame. A snapshot of another
  ``state_version`` is not offered. ``restore`` must check what it is given (raise on
  anything it cannot use): Vigil then logs one line and the app starts afresh; a crash
  loses at most the last interval. Tracks are not carried over (the new worker's tracker
  numbers them anew), so keep totals, not per-track state. Built-ins that restore:
  ``line_crossing`` (its in/out totals) and ``occupancy`` (current count and peak).
  Sandboxed store apps cannot restore yet: their state stays in their sandbox.
* Events: ``Event.source`` = ``ctx.source_id``, ``Event.app`` = the instance name, times are
  seconds on the source timeline (``ctx.pts``). Long-lived events are ``start`` [``update``…]
  ``end`` with one ``id``; one-shot events are ``instant``. Use `App.event` to fill the
  common fields. Report anonymous objects only: no identification, faces or demographics.

Conventions of the built-in apps: an object's position is its bottom-centre anchor
(`Detections.anchors`); zone membership has inertia (3 frames to enter, 3 to leave by default);
a track unseen for ``lost_timeout`` seconds is gone. An event's ``start_time`` is the pts of
the frame on which the app became sure (e.g. when a dwell threshold was reached); an
``end_time`` likewise, except for a track that disappeared, which ends at its last sighting.
End events carry ``attributes["reason"]``: ``left``, ``lost``, ``moved``, ``below``,
``schedule`` or ``end_of_stream``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from vigil.detection.detections import Detections
from vigil.events.event import Event, EventState
from vigil.geometry.ground import GroundPlane
from vigil.geometry.shapes import Line, Zone

if TYPE_CHECKING:
    from vigil.sources.frame import Frame

SDK_VERSION = "1.3.0"
"""The version of this SDK (semantic: a minor version only adds). 1.1 added `ZoneName`,
`LineName` and `ClassName`; 1.2 added `App.restorable`, `App.snapshot` and `App.restore`;
1.3 added calibrated zones (``Zone.ground``, ``Zone.ground_plane()``, `Scene.ground_at`)."""

MAX_STATE_BYTES = 64 * 1024
"""The largest `App.snapshot`, as compact JSON in UTF-8: a larger one is not saved."""


@dataclass(frozen=True, slots=True)
class FrameContext:
    """What an app knows about the frame being processed."""

    source_id: str
    """The camera (or video) the frame comes from: an event's ``source``."""
    frame_index: int
    """0-based index of the frame in its source, increasing across reconnects."""
    pts: float
    """Seconds on the source timeline (a live camera's wall clock): an event's time."""
    width: int
    """Frame width in pixels."""
    height: int
    """Frame height in pixels."""
    image: np.ndarray | None = None
    """BGR uint8 (height, width, 3) pixels, only for apps with ``needs_pixels = True``
    (otherwise None). Read it, never modify it."""

    @classmethod
    def from_frame(cls, frame: Frame, with_image: bool = False) -> FrameContext:
        """The context of a decoded `vigil.sources.frame.Frame` (its pixels only with
        `with_image`)."""
        return cls(
            source_id=frame.source_id,
            frame_index=frame.index,
            pts=frame.pts,
            width=frame.width,
            height=frame.height,
            image=frame.image if with_image else None,
        )


_T = TypeVar("_T")


def _named(kind: str, shapes: Mapping[str, _T], name: str) -> _T:
    try:
        return shapes[name]
    except KeyError:
        known = ", ".join(sorted(shapes)) or "none defined"
        raise ValueError(f"unknown {kind} {name!r} (known: {known})") from None


@dataclass(frozen=True)
class Scene:
    """The static description of a camera view that apps refer to by name.

    ``zones`` and ``lines`` are already in pixels for ``width``×``height``; build it with
    `Scene.build` from shapes in any coordinates. ``class_names[i]`` is the name of class id
    ``i`` (COCO order for the default detector).
    """

    width: int
    """Frame width in pixels."""
    height: int
    """Frame height in pixels."""
    zones: Mapping[str, Zone] = field(default_factory=dict)
    """The camera's zones by name, in pixels."""
    lines: Mapping[str, Line] = field(default_factory=dict)
    """The camera's lines by name, in pixels."""
    class_names: Sequence[str] = ()
    """``class_names[i]`` names class id ``i`` (COCO order for the default detector)."""

    @classmethod
    def build(
        cls,
        width: int,
        height: int,
        zones: Iterable[Zone] = (),
        lines: Iterable[Line] = (),
        class_names: Sequence[str] = (),
    ) -> Scene:
        """Resolve zones and lines to pixels for the frame size; names must be unique."""
        zmap: dict[str, Zone] = {}
        for z in zones:
            if z.name in zmap:
                raise ValueError(f"duplicate zone name {z.name!r}")
            zmap[z.name] = z.to_pixels(width, height)
        lmap: dict[str, Line] = {}
        for ln in lines:
            if ln.name in lmap:
                raise ValueError(f"duplicate line name {ln.name!r}")
            lmap[ln.name] = ln.to_pixels(width, height)
        return cls(int(width), int(height), zmap, lmap, tuple(class_names))

    def zone(self, name: str) -> Zone:
        """The pixel zone called `name`; ValueError naming it (and the known ones) if absent."""
        return _named("zone", self.zones, name)

    def line(self, name: str) -> Line:
        """The pixel line called `name`; ValueError naming it (and the known ones) if absent."""
        return _named("line", self.lines, name)

    def ground_at(self, point: tuple[float, float]) -> GroundPlane | None:
        """The ground plane of the first calibrated zone (``Zone.ground``) containing the
        pixel `point`, None if no calibrated zone does."""
        for zone in self.zones.values():
            plane = zone.ground_plane()
            if plane is not None and bool(zone.contains(np.asarray([point]))[0]):
                return plane
        return None

    def class_ids(self, classes: Sequence[str | int] | None) -> np.ndarray | None:
        """Class names (case-insensitive) or ids → sorted unique int64 ids; empty/None → None (all)."""
        if not classes:
            return None
        lookup = {n.lower(): i for i, n in reversed(list(enumerate(self.class_names)))}
        ids = []
        for c in classes:
            if isinstance(c, str) and c.strip().lower() in lookup:
                ids.append(lookup[c.strip().lower()])
                continue
            if isinstance(c, str) and c.strip().isdigit():
                c = int(c.strip())  # an id written as text
            if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
                if c < 0 or (self.class_names and c >= len(self.class_names)):
                    raise ValueError(f"unknown class id {c}")
                ids.append(int(c))
            else:
                raise ValueError(f"unknown class {c!r}")
        return np.unique(np.asarray(ids, dtype=np.int64))

    def class_name(self, class_id: int | None) -> str | None:
        """The name of `class_id` (its number as text when the scene has no name for it);
        None for None."""
        if class_id is None:
            return None
        if 0 <= class_id < len(self.class_names):
            return self.class_names[class_id]
        return str(class_id)


REFERENCE_KEY = "x-vigil-ref"
"""The JSON Schema keyword `ZoneName`, `LineName` and `ClassName` add to a settings field: its
value (one of `REFERENCE_KINDS`) says the field names a zone, line or class of the scene."""
REFERENCE_KINDS = ("zone", "line", "class")
"""The values `REFERENCE_KEY` takes."""


class _SceneReference:
    """Pydantic metadata marking a settings field as a name in the scene: it adds
    ``REFERENCE_KEY: kind`` to the field's JSON Schema."""

    def __init__(self, kind: str):
        self.kind = kind

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema[REFERENCE_KEY] = self.kind
        return schema


ZoneName = Annotated[str, _SceneReference("zone")]
"""A setting naming one of the camera's zones."""
LineName = Annotated[str, _SceneReference("line")]
"""A setting naming one of the camera's lines."""
ClassName = Annotated[str | int, _SceneReference("class")]
"""A setting naming an object class, by name (case-insensitive) or id."""


class AppSettings(BaseModel):
    """Base for app settings: unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid")


class App(abc.ABC):
    """Base class of every app; the contract is in `vigil.apps`."""

    kind: ClassVar[str]
    """The app's id: what a configuration's ``type:`` names (``[a-z0-9_]+``)."""
    Settings: ClassVar[type[BaseModel]]
    """The pydantic model of its settings (a subclass of `AppSettings`)."""
    needs_pixels: ClassVar[bool] = False
    """True only if `process` reads ``ctx.image`` (the frame's pixels)."""
    emits: ClassVar[tuple[str, ...]] = ()
    """Every event type `process` and `finish` may emit (others are rejected)."""
    sdk_version: ClassVar[str] = SDK_VERSION
    """The SDK version the app was written against (its major version must match)."""
    restorable: ClassVar[bool] = False
    """True if the app implements `snapshot` and `restore`: its state then survives a
    restart of its camera's worker and a move of the camera to another node."""
    state_version: ClassVar[int] = 1
    """The layout of what `snapshot` returns: raise it when the layout changes, so that a
    state saved by an older version of the app is not offered to `restore`."""

    def __init__(self, name: str, settings: BaseModel, scene: Scene):
        """Keep `name` (the instance name, an event's ``app``), the validated `settings` and
        the `scene`; a subclass resolves its zones, lines and classes here (ValueError for an
        unknown one). TypeError when `settings` is not an instance of ``Settings``."""
        if not isinstance(settings, self.Settings):
            raise TypeError(
                f"{type(self).__name__} expects {self.Settings.__name__}, got {type(settings).__name__}"
            )
        self.name = name
        """The instance name from the configuration (an event's ``app``)."""
        self.settings = settings
        """The validated settings, an instance of ``Settings``."""
        self.scene = scene
        """The camera's `Scene`."""

    @abc.abstractmethod
    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        """Analyse one frame's tracked objects; return the events it produced (often [])."""

    def finish(self, ctx: FrameContext) -> list[Event]:
        """End of stream: close open long-lived events. Default: nothing to close."""
        return []

    def counters(self) -> dict[str, float]:
        """Live numbers for the overlay and the summary, e.g. ``{"person in": 3}``."""
        return {}

    def snapshot(self) -> dict[str, Any]:
        """A `restorable` app's state to carry over a restart: JSON data (dicts with string
        keys, lists, strings, numbers, booleans, None) of at most `MAX_STATE_BYTES`.
        Called between frames, about every 10 s and when the worker stops. Default: {}."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what `snapshot` returned before a restart (once, after ``__init__`` and
        before the first frame). Check it first and raise (ValueError, a pydantic
        ValidationError...) when it cannot be used: the app then starts afresh and Vigil
        logs one line. Default: nothing to restore."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # -- helpers for subclasses -----------------------------------------------------------
    @staticmethod
    def select(objects: Detections, class_ids: np.ndarray | None = None) -> Detections:
        """Tracked objects (tracker_id >= 0) of the given classes (None = all), one per track id."""
        keep = objects.tracker_id >= 0
        if class_ids is not None:
            keep &= np.isin(objects.class_id, class_ids)
        sel = objects[keep] if not keep.all() else objects
        if len(sel) > 1:
            _, first = np.unique(sel.tracker_id, return_index=True)
            if len(first) != len(sel):
                sel = sel[np.sort(first)]
        return sel

    def event(
        self,
        ctx: FrameContext,
        type: str,
        state: EventState = "instant",
        *,
        start_time: float | None = None,
        end_time: float | None = None,
        track_id: int | None = None,
        class_id: int | None = None,
        zone: str | None = None,
        line: str | None = None,
        attributes: dict[str, Any] | None = None,
        id: str | None = None,
    ) -> Event:
        """An `Event` from this app on this frame; instant events get ``end_time = start_time``."""
        start = float(ctx.pts if start_time is None else start_time)
        if end_time is None and state == "instant":
            end_time = start
        kwargs: dict[str, Any] = {} if id is None else {"id": id}
        cid = None if class_id is None else int(class_id)
        return Event(
            source=ctx.source_id,
            app=self.name,
            type=type,
            start_time=start,
            frame_index=int(ctx.frame_index),
            state=state,
            end_time=None if end_time is None else float(end_time),
            track_id=None if track_id is None else int(track_id),
            class_id=cid,
            class_name=self.scene.class_name(cid),
            zone=zone,
            line=line,
            attributes=dict(attributes or {}),
            **kwargs,
        )
