"""The analytics engine: frames → motion gating → detection → tracking → apps → events.

Apps run behind `vigil.apps.boundary` (`GuardedApp`): an app that raises or returns a bad
event affects only itself, never the tracker or the other apps."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from vigil.apps.base import App, FrameContext
from vigil.apps.boundary import GuardedApp, guarded
from vigil.detection.base import Detector
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.forensics.summary import TrackSummarizer, TrackSummary
from vigil.pipeline.gating import RegionGate
from vigil.pipeline.prefetch import prefetch
from vigil.sources.frame import Frame
from vigil.tracking.tracker import ByteTracker

NO_REGIONS = np.empty((0, 4), np.float32)


@dataclass(slots=True)
class FrameResult:
    frame: Frame
    objects: Detections  # tracked objects, each with a tracker_id
    events: list[Event]
    regions: np.ndarray  # where the detector looked; empty when it did not run
    detected: bool
    tracks: list[TrackSummary]  # tracks that ended on this frame (forensic search)


class Engine:
    """Processes one source's frames in order; holds that source's tracker and app state.

    `run` keeps up to `in_flight` frames in the detector at once (inference releases the
    GIL), while decoding runs ahead in its own thread and tracking and apps follow in frame
    order. On a small CPU a small model gains more from frames in parallel than from threads
    inside one inference.
    """

    def __init__(
        self,
        detector: Detector,
        tracker: ByteTracker,
        gate: RegionGate,
        apps: Sequence[App] = (),
        detect_interval: float | None = None,
        in_flight: int = 2,
        summarizer: TrackSummarizer | None = None,
    ):
        self.detector = detector
        self.tracker = tracker
        self.gate = gate
        self.apps: list[GuardedApp] = [guarded(app) for app in apps]
        self.detect_interval = detect_interval
        self.in_flight = max(1, in_flight)
        self.summarizer = summarizer
        self._next_detect = 0.0
        self._pixels_needed = any(app.needs_pixels for app in self.apps)
        self._last: Frame | None = None

    def run(self, frames: Iterable[Frame]) -> Iterator[FrameResult]:
        """Process every frame with detection running ahead, in frame order."""
        with ThreadPoolExecutor(self.in_flight, thread_name_prefix="vigil-detect") as pool:
            queued: deque[tuple[Frame, np.ndarray | None, Future[Detections] | None]] = deque()
            # Motion detection follows the frames alone: it runs on the decoding thread.
            for frame, motion in prefetch((frame, self._sense(frame)) for frame in frames):
                regions = self._plan(motion, steps=len(queued) + 1)
                job = (
                    pool.submit(self._detect, frame.image, regions) if regions is not None else None
                )
                queued.append((frame, regions, job))
                if len(queued) > self.in_flight:
                    yield self._complete(*queued.popleft())
            while queued:
                yield self._complete(*queued.popleft())

    def process(self, frame: Frame) -> FrameResult:
        """Process one frame synchronously (for live sources that hand frames one by one)."""
        regions = self._plan(self._sense(frame), steps=1)
        detections = self._detect(frame.image, regions) if regions is not None else None
        return self._finish_frame(frame, regions, detections)

    def finish(self) -> list[Event]:
        """End of stream: apps close their long-lived events."""
        return self._finish_apps(self.apps)

    def finish_tracks(self) -> list[TrackSummary]:
        """End of stream: the summaries of the tracks still open."""
        return self.summarizer.finish() if self.summarizer is not None else []

    def swap_apps(self, apps: Sequence[App]) -> list[Event]:
        """Run `apps` from the next frame on (the tracker is kept); apps that are not among
        them finish, and the events they close are returned. `apps` may hold the engine's
        own (guarded) apps, which keep their state, and new ones."""
        keep = {id(app) for app in apps}
        ended = self._finish_apps([app for app in self.apps if id(app) not in keep])
        self.apps = [guarded(app) for app in apps]
        self._pixels_needed = any(app.needs_pixels for app in self.apps)
        return ended

    def _finish_apps(self, apps: Sequence[App]) -> list[Event]:
        if self._last is None:
            return []
        f = self._last
        ctx = FrameContext(f.source_id, f.index, f.pts, f.width, f.height, None)
        return [event for app in apps for event in app.finish(ctx)]

    def _sense(self, frame: Frame) -> np.ndarray | None:
        """The frame's motion boxes, or None when detection is not due on this frame."""
        return self.gate.sense(frame.image) if self._due(frame.pts) else None

    def _plan(self, motion: np.ndarray | None, steps: int) -> np.ndarray | None:
        """Regions to detect in, or None when detection is not due on this frame."""
        if motion is None:
            return None
        tracks, speed = self.tracker.forecast(steps)
        return self.gate.plan(motion, tracks, speed)

    def _complete(
        self, frame: Frame, regions: np.ndarray | None, job: Future[Detections] | None
    ) -> FrameResult:
        return self._finish_frame(frame, regions, job.result() if job is not None else None)

    def _finish_frame(
        self, frame: Frame, regions: np.ndarray | None, detections: Detections | None
    ) -> FrameResult:
        self._last = frame
        if detections is not None:
            detections = self.gate.admitted(detections)
        objects = self.tracker.update(detections, frame.pts, regions, image=frame.image)
        ctx = FrameContext(
            source_id=frame.source_id,
            frame_index=frame.index,
            pts=frame.pts,
            width=frame.width,
            height=frame.height,
            image=frame.image if self._pixels_needed else None,
        )
        events = [event for app in self.apps for event in app.process(ctx, objects)]
        looked = regions if regions is not None else NO_REGIONS
        tracks = (
            self.summarizer.update(
                frame.pts,
                (frame.width, frame.height),
                objects.tracker_id,
                objects.xyxy,
                objects.class_id,
                frame.image,
            )
            if self.summarizer is not None
            else []
        )
        return FrameResult(frame, objects, events, looked, detections is not None, tracks)

    def _due(self, pts: float) -> bool:
        if self.detect_interval is None:
            return True
        if pts + 1e-6 < self._next_detect:
            return False
        # Stay on the interval grid despite timestamp jitter; restart it after a stall.
        self._next_detect = max(self._next_detect, pts - self.detect_interval / 2)
        self._next_detect += self.detect_interval
        return True

    def _detect(self, image: np.ndarray, regions: np.ndarray) -> Detections:
        if len(regions) == 0:
            return Detections.empty()
        boxes = np.round(regions).astype(np.int64)
        crops = [image[y1:y2, x1:x2] for x1, y1, x2, y2 in boxes]
        found = self.detector.detect(crops)
        for dets, (x1, y1, _, _) in zip(found, boxes):
            dets.xyxy += np.array([x1, y1, x1, y1], np.float32)
        return Detections.merge(found)
