"""``abandoned_object`` and ``object_removed``: something left in a zone, or taken from it.

These apps read pixels. On the motion detector's small grey frame, two OpenCV MOG2
background models learn at two speeds: the short one absorbs a still change within a
second, the long one only after ``4 × min_seconds`` (one minute at least). Where the picture
changed and then stayed still, they disagree — foreground for the long model, background for
the short one. A blob of such *still* pixels (``min_area`` … ``max_area`` of the frame) that
has been still for ``min_seconds`` is a left or a removed object: left when the blob's outline
has more edges in the frame than in the long background (a contour appeared), removed when
it has fewer (a contour vanished).

What is not an object:

* lighting drift: every frame's grey levels are scaled to the first frame's median before
  the models see it, so a global brightening or dimming changes nothing;
* tracked objects of ``classes`` (people and vehicles by default): a still blob under or
  touching one (within a quarter of its box height) is *attended* — its time neither counts
  nor restarts, so a person standing still is never an object, a bag counts from when its
  owner walks away, and one behind a passer-by keeps its time; where tracked objects stood
  still for a tenth of the long model's memory or more, nothing is still (the long model
  remembers a person or vehicle there, not an object);
* the first `WARMUP_SECONDS`: the long model learns at the running-mean rate, so that people
  in the first frame leave no ghosts (what appears or vanishes then is learnt, not reported).

One instant event per object, ``min_seconds`` after it was first seen still and unattended
(the short model's absorption adds about a second), if it was seen so for half that time at
least and is unattended now. Attributes: ``box`` (``[x1, y1, x2,
y2]`` in frame pixels, to crop the event's snapshot to the object), ``appeared_at`` (pts the
change was first seen still and unattended) and ``still_seconds``. ``track_id`` and
``class_id`` are those of the tracked object of ``classes`` last near the object when it
appeared (e.g. who left it), if any.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar, Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from vigil.apps._common import PEOPLE, VEHICLES, round_s
from vigil.apps.base import App, AppSettings, ClassName, FrameContext, Scene, ZoneName
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.geometry.shapes import rasterize_polygon
from vigil.motion.detector import small_gray

SHORT_SECONDS = 1.0  # the short model absorbs a still change in about this long
MIN_MEMORY_SECONDS = 60.0  # the long model's absorption time is 4 × min_seconds, at least this
WARMUP_SECONDS = 5.0  # the long model learns at the running-mean rate this long at the start
GRACE_SECONDS = 2.0  # a still pixel may flicker this long (at most min_seconds / 2)
OCCUPIED = 0.1  # share of the long memory tracked objects stood still on a pixel: never still
HOLD = 0.25  # a still blob this many box heights from a tracked object is attended
NEAR = 0.5  # a tracked object is near the object within this many of its box heights
LINK_LOOKBACK = 10.0  # seconds before the appearance searched for the object last near it
ABSORBED = 0.9  # MOG2 counts a value as background once its weight passes 1 - this
_KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))


class StillChangeSettings(AppSettings):
    zone: ZoneName | None = None
    min_seconds: float = Field(30.0, gt=0, description="seconds the object must stay")
    classes: list[ClassName] = Field(
        default_factory=lambda: [*PEOPLE, "bicycle", *VEHICLES],
        description="tracked objects that explain a change where they stand; the one last "
        "near an object is linked to its event",
    )
    min_area: float = Field(0.0005, gt=0, lt=1, description="smallest object, share of the frame")
    max_area: float = Field(0.05, gt=0, le=1, description="largest object, share of the frame")
    threshold: float = Field(
        4.0, gt=0, description="change from the background, in standard deviations of its noise"
    )
    scale_height: int = Field(
        120, ge=16, description="the grey frame is halved until less than twice this high"
    )

    @model_validator(mode="after")
    def _areas(self) -> StillChangeSettings:
        if self.min_area >= self.max_area:
            raise ValueError(f"min_area {self.min_area} must be below max_area {self.max_area}")
        return self


def _rate(dt: float, absorb_seconds: float) -> float:
    """MOG2 learning rate that absorbs a still change in `absorb_seconds` at frame step `dt`."""
    return 1.0 - ABSORBED ** (max(dt, 0.0) / absorb_seconds)


def _edges(gray: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    return cv2.magnitude(gx, gy)


class _StillChange(App):
    """A change in the picture that stays still (see the module docstring); `change` says
    which kind this app reports."""

    Settings = StillChangeSettings
    needs_pixels: ClassVar[bool] = True
    change: ClassVar[Literal["left", "removed"]]

    def __init__(self, name: str, settings: StillChangeSettings, scene: Scene):
        super().__init__(name, settings, scene)
        self.settings: StillChangeSettings = settings
        self.zone = scene.zone(settings.zone) if settings.zone is not None else None
        self.class_ids = scene.class_ids(settings.classes)
        self.memory_seconds = max(MIN_MEMORY_SECONDS, 4 * settings.min_seconds)
        self.grace = min(GRACE_SECONDS, settings.min_seconds / 2)
        self._frames = 0
        self._start = self._last_pts = 0.0
        self._long, self._short = self._model(), self._model()  # MOG2, remade by _begin
        self._size: tuple[int, int] | None = None  # of the frames the models learnt
        self._recent: deque[tuple[float, Detections]] = deque()
        self._total = 0

    def _model(self) -> cv2.BackgroundSubtractorMOG2:
        model = cv2.createBackgroundSubtractorMOG2(
            varThreshold=self.settings.threshold**2, detectShadows=False
        )
        model.setBackgroundRatio(ABSORBED)
        return model

    def _begin(self, ctx: FrameContext, gray: np.ndarray) -> None:
        h, w = gray.shape
        self._long, self._short = self._model(), self._model()
        self._frames = 0
        self._recent.clear()
        self._size = (ctx.width, ctx.height)
        self._start = self._last_pts = ctx.pts
        self._level = max(float(np.median(gray)), 1.0)
        self._scale = np.array([w / ctx.width, h / ctx.height] * 2)
        self._zone_mask = (
            rasterize_polygon(self.zone.vertices * self._scale[:2], w, h)
            if self.zone is not None
            else np.ones((h, w), bool)
        )
        self._occupied = np.zeros((h, w), np.float32)  # long-memory share under tracked boxes
        self._since = np.full((h, w), np.nan)  # pts each pixel became still
        self._still_for = np.zeros((h, w))  # seconds each pixel was seen still
        self._seen = np.full((h, w), -np.inf)  # pts each pixel was last seen still (or hidden)
        self._reported = np.zeros((h, w), bool)
        area = h * w
        self._area_px = (self.settings.min_area * area, self.settings.max_area * area)

    def _under(self, objects: Detections, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(H, W) bool masks on the small grid: under the box of one of `objects`, and under
        it or within `HOLD` of its box heights (boxes are loose; an owner beside their bag
        has not left it)."""
        if not len(objects):
            nothing = np.zeros(shape, bool)
            return nothing, nothing
        margin = HOLD * (objects.xyxy[:, 3] - objects.xyxy[:, 1])[:, None] * [-1, -1, 1, 1]
        boxes = np.concatenate([objects.xyxy, objects.xyxy + margin]) * self._scale
        h, w = shape
        rows, cols = np.arange(h)[None, :], np.arange(w)[None, :]
        in_rows = (rows >= np.floor(boxes[:, 1:2])) & (rows < np.ceil(boxes[:, 3:4]))
        in_cols = (cols >= np.floor(boxes[:, 0:1])) & (cols < np.ceil(boxes[:, 2:3]))
        k = len(objects)
        inside = in_rows.T.astype(np.float32)[:, :k] @ in_cols.astype(np.float32)[:k] > 0
        near = in_rows.T.astype(np.float32)[:, k:] @ in_cols.astype(np.float32)[k:] > 0
        return inside, near

    @staticmethod
    def _touching(still: np.ndarray, near: np.ndarray) -> np.ndarray:
        """The blobs of `still` (uint8) that reach into `near` (a bag beside its owner)."""
        if not near.any():
            return np.zeros(still.shape, bool)
        count, labels = cv2.connectedComponents(still)
        touched = np.zeros(count, bool)
        touched[labels[near]] = True
        touched[0] = False  # not still
        return touched[labels]

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        if ctx.image is None:
            raise ValueError(f"app {self.name!r} needs the frame's pixels (needs_pixels)")
        now = ctx.pts
        gray = small_gray(ctx.image, self.settings.scale_height)
        if (ctx.width, ctx.height) != self._size or now < self._last_pts:
            # the first frame, a new picture size or a clock restarted (a looping file)
            self._begin(ctx, gray)
        # Global lighting drift: keep the frame's median at the first frame's.
        gray = cv2.convertScaleAbs(gray, alpha=self._level / max(float(np.median(gray)), 1.0))
        dt = now - self._last_pts
        self._last_pts = now
        running_mean = 1.0 / (self._frames + 1)
        self._frames += 1
        long_rate = _rate(dt, self.memory_seconds)
        warming = now - self._start < WARMUP_SECONDS
        if warming:
            long_rate = max(long_rate, running_mean)
        long_fg = self._long.apply(gray, learningRate=long_rate) > 0
        short_fg = (
            self._short.apply(gray, learningRate=max(_rate(dt, SHORT_SECONDS), running_mean)) > 0
        )

        objs = self.select(objects, self.class_ids)
        self._recent.append((now, objs))
        while now - self._recent[0][0] > self.settings.min_seconds + self.grace + LINK_LOOKBACK:
            self._recent.popleft()
        boxes, near = self._under(objs, gray.shape)
        # What the long memory learns of tracked objects standing still (all of them while
        # warming up, when it learns everything).
        standing = boxes & ~short_fg & (long_fg | warming)
        cv2.accumulateWeighted(standing.astype(np.float32), self._occupied, long_rate)

        still = long_fg & ~short_fg & self._zone_mask & (self._occupied < OCCUPIED)
        still = cv2.morphologyEx(still.astype(np.uint8), cv2.MORPH_OPEN, _KERNEL)
        attended = near | self._touching(still, near)
        seen = (still > 0) & ~attended
        timing = ~np.isnan(self._since)
        self._since[seen & ~timing] = now
        self._still_for[seen] += dt
        # Hidden by a tracked object or attended: neither counted nor forgotten.
        self._seen[seen | (attended & timing)] = now
        gone = now - self._seen > self.grace
        self._since[gone] = np.nan
        self._still_for[gone] = 0.0
        self._reported[gone] = False
        # Pixels seen still (not only hidden) for half of min_seconds at least, in sight now;
        # a blob of them is an object once its oldest pixel has been still for min_seconds.
        steady = seen & (self._still_for >= self.settings.min_seconds / 2)
        old = now - self._since >= self.settings.min_seconds - 1e-9
        if not (steady & old & ~self._reported).any():
            return []
        return self._report(ctx, gray, steady)

    def _report(self, ctx: FrameContext, gray: np.ndarray, steady: np.ndarray) -> list[Event]:
        """Events for the blobs of `steady` pixels that became objects (rare: not per frame)."""
        count, labels, stats, _ = cv2.connectedComponentsWithStats(steady.astype(np.uint8))
        label = labels[steady]
        oldest = np.full(count, np.inf)
        np.minimum.at(oldest, label, self._since[steady])
        known = np.zeros(count, bool)  # reported already, maybe smaller then: one event each
        known[label[self._reported[steady]]] = True
        area = stats[:, cv2.CC_STAT_AREA]
        new = (
            (ctx.pts - oldest >= self.settings.min_seconds - 1e-9)
            & (area >= self._area_px[0])
            & (area <= self._area_px[1])
            & ~known
        )
        new[0] = False  # the rest of the picture
        self._reported[steady] |= (known | new)[label]
        if not new.any():
            return []
        background = self._long.getBackgroundImage()
        events = []
        for i in np.flatnonzero(new):
            blob = labels == i
            if self._kind_of(blob, gray, background) == self.change:
                events.append(self._event(ctx, stats[i], float(oldest[i])))
        return events

    @staticmethod
    def _kind_of(blob: np.ndarray, gray: np.ndarray, background: np.ndarray) -> str:
        """``left`` when the blob's outline has more edges now than in the background."""
        outline = cv2.morphologyEx(blob.astype(np.uint8), cv2.MORPH_GRADIENT, _KERNEL) > 0
        now, before = _edges(gray)[outline].mean(), _edges(background)[outline].mean()
        return "left" if now > before else "removed"

    def _event(self, ctx: FrameContext, stat: np.ndarray, appeared: float) -> Event:
        x, y, w, h = (int(v) for v in stat[:4])
        box = np.array([x, y, x + w, y + h]) / self._scale
        box = [int(v) for v in np.round(box)]
        track_id, class_id = self._last_near(np.asarray(box, np.float64), appeared)
        self._total += 1
        return self.event(
            ctx,
            self.emits[0],
            track_id=track_id,
            class_id=class_id,
            zone=None if self.zone is None else self.zone.name,
            attributes={
                "box": box,
                "appeared_at": round_s(appeared),
                "still_seconds": round_s(ctx.pts - appeared),
            },
        )

    def _last_near(self, box: np.ndarray, appeared: float) -> tuple[int | None, int | None]:
        """The tracked object nearest to `box` on the last frame, up to `appeared`, that had
        one near it (within `LINK_LOOKBACK` seconds)."""
        centre = (box[:2] + box[2:]) / 2
        for pts, objs in reversed(self._recent):
            if pts > appeared + 1e-9 or not len(objs):
                continue
            if pts < appeared - LINK_LOOKBACK:
                break
            margin = NEAR * (objs.xyxy[:, 3] - objs.xyxy[:, 1])
            near = (
                (objs.xyxy[:, 0] - margin < box[2])
                & (box[0] < objs.xyxy[:, 2] + margin)
                & (objs.xyxy[:, 1] - margin < box[3])
                & (box[1] < objs.xyxy[:, 3] + margin)
            )
            if near.any():
                distance = np.linalg.norm(objs.centers - centre, axis=1)
                best = int(np.argmin(np.where(near, distance, np.inf)))
                return int(objs.tracker_id[best]), int(objs.class_id[best])
        return None, None

    def counters(self) -> dict[str, float]:
        return {self.emits[0]: float(self._total)}


class AbandonedObject(_StillChange):
    """``abandoned_object``: an object left in a zone stays there for ``min_seconds``."""

    kind: ClassVar[str] = "abandoned_object"
    emits: ClassVar[tuple[str, ...]] = ("abandoned_object",)
    change: ClassVar[Literal["left", "removed"]] = "left"


class ObjectRemoved(_StillChange):
    """``object_removed``: an object taken from a zone stays missing for ``min_seconds``."""

    kind: ClassVar[str] = "object_removed"
    emits: ClassVar[tuple[str, ...]] = ("object_removed",)
    change: ClassVar[Literal["left", "removed"]] = "removed"
