"""Motion gating: decides, frame by frame, where the detector looks.

- No motion and no moving track: the detector is skipped; tracks coast on their motion model.
- Motion or moving tracks: crops around them (see `vigil.motion.regions`), or the whole frame
  when crops would cost as much.
- Every `full_frame_every` frames a full-frame pass re-checks everything, stationary objects
  included, and finds objects that appeared without motion (Frigate re-checks stationary
  objects in the same way).
- A camera's static privacy polygons (the motion detector's `exclude` mask) are left out:
  no motion there, and detections centred there are dropped (`admitted`).
"""

from __future__ import annotations

import numpy as np

from vigil.detection.detections import Detections
from vigil.motion.detector import MotionDetector, MotionSettings
from vigil.motion.regions import plan_regions


class RegionGate:
    def __init__(
        self,
        settings: MotionSettings,
        motion: MotionDetector,
        frame_size: tuple[int, int],
        crop_size: tuple[int, int],
    ):
        self.settings = settings
        self.motion = motion
        self.frame_size = frame_size
        self.crop_size = crop_size
        self._since_full = settings.full_frame_every  # first frame gets a full pass
        self._full = np.array([[0, 0, *frame_size]], np.float32)
        self.motion_boxes = np.empty((0, 4), np.float32)  # the last frame's motion

    def sense(self, image: np.ndarray) -> np.ndarray:
        """Motion boxes (M, 4) xyxy of the next frame, for `plan`. They depend on the frames
        alone, in order, so they can be found ahead of planning (on the decoding thread)."""
        return self.motion.detect(image)

    def admitted(self, detections: Detections) -> Detections:
        """`detections` less those centred in the excluded area (static privacy polygons)."""
        exclude = self.motion.exclude
        if exclude is None or len(detections) == 0:
            return detections
        height, width = exclude.shape
        centres = (detections.xyxy[:, :2] + detections.xyxy[:, 2:]) / 2
        x = np.clip(centres[:, 0].astype(np.int64), 0, width - 1)
        y = np.clip(centres[:, 1].astype(np.int64), 0, height - 1)
        return detections[exclude[y, x] == 0]

    def plan(self, motion: np.ndarray, tracks: Detections, track_speed: np.ndarray) -> np.ndarray:
        """Regions (R, 4) xyxy to detect in, given the frame's motion (`sense`); empty means
        skip the detector on this frame."""
        s = self.settings
        # Motion is tracked even with gating off: recordings are kept by it.
        self.motion_boxes = motion
        if not s.enabled:
            return self._full
        self._since_full += 1
        if self._since_full >= s.full_frame_every:
            self._since_full = 0
            return self._full
        moving = tracks[track_speed >= s.moving_speed]
        size = moving.xyxy[:, 2:] - moving.xyxy[:, :2]
        around_tracks = np.concatenate(
            [
                moving.xyxy[:, :2] - s.track_margin * size,
                moving.xyxy[:, 2:] + s.track_margin * size,
            ],
            axis=1,
        )
        regions = plan_regions(
            np.concatenate([motion, around_tracks]), self.frame_size, self.crop_size, s.max_regions
        )
        if len(regions) == 1 and np.array_equal(regions, self._full):
            self._since_full = 0
        return regions
