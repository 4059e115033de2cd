"""Motion gating: decides, frame by frame, where the detector looks.

- No motion and no moving track: the detector is skipped; tracks coast on their motion model.
- Motion or moving tracks: crops around them (see `vigil.motion.regions`), or the whole frame
  when crops would cost as much.
- Every `full_frame_every` frames a full-frame pass re-checks everything, stationary objects
  included, and finds objects that appeared without motion (Frigate re-checks stationary
  objects in the same way).
- A camera's static privacy polygons (the motion detector's `exclude` mask) are left out:
  no motion there, and a detection with at least `EXCLUDED_SHARE` of its box inside them is
  dropped (`admitted`), decided by overlap rather than by the box's centre: a person half in
  the neighbour's garden is not analysed, and a thin polygon (a window) through someone's
  middle does not hide them from analysis. The dropped detections are kept in `excluded`
  for masking: the part of such a person outside the polygons is still served masked.
"""

from __future__ import annotations

import cv2
import numpy as np

from vigil.detection.detections import Detections
from vigil.motion.detector import MotionDetector, MotionSettings
from vigil.motion.regions import plan_regions

#: A detection is left out when at least this share of its box's area lies in the excluded
#: area: mostly inside (a person standing in the excluded garden, partly hidden behind its
#: fence) is out, a person brushing past its edge is still analysed.
EXCLUDED_SHARE = 0.5


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
        self.excluded = Detections.empty()  # the last frame's detections left out
        # The excluded area's integral image (summed-area table), for the mask it was made of.
        self._integral: tuple[np.ndarray, np.ndarray] | None = None

    def sense(self, image: np.ndarray) -> np.ndarray:
        """Motion boxes (M, 4) xyxy of the next frame, for `plan`. They depend on the frames
        alone, in order, so they can be found ahead of planning (on the decoding thread)."""
        return self.motion.detect(image)

    def admitted(self, detections: Detections) -> Detections:
        """`detections` less those with at least `EXCLUDED_SHARE` of their box in the
        excluded area (static privacy polygons); those go to `excluded`."""
        exclude = self.motion.exclude
        if exclude is None or len(detections) == 0:
            self.excluded = Detections.empty()
            return detections
        inside = self.excluded_share(detections.xyxy, exclude) >= EXCLUDED_SHARE
        self.excluded = detections[inside]
        return detections[~inside]

    def excluded_share(self, xyxy: np.ndarray, exclude: np.ndarray) -> np.ndarray:
        """The share (N,) of each box's pixels that lie in `exclude` (nonzero inside): four
        look-ups per box in the mask's integral image, whatever the boxes' sizes."""
        if self._integral is None or self._integral[0] is not exclude:
            self._integral = (exclude, cv2.integral((exclude > 0).view(np.uint8)))
        table = self._integral[1]
        height, width = exclude.shape
        boxes = np.nan_to_num(np.asarray(xyxy, np.float64).reshape(-1, 4))
        x1, x2 = (np.clip(np.floor(boxes[:, i]), 0, width).astype(np.int64) for i in (0, 2))
        y1, y2 = (np.clip(np.floor(boxes[:, i]), 0, height).astype(np.int64) for i in (1, 3))
        x2, y2 = np.maximum(x2, x1), np.maximum(y2, y1)
        inside = table[y2, x2] - table[y1, x2] - table[y2, x1] + table[y1, x1]
        area = (x2 - x1) * (y2 - y1)
        # A box with no pixels in the picture is judged by its corner pixel.
        corner = exclude[np.minimum(y1, height - 1), np.minimum(x1, width - 1)] > 0
        return np.where(area > 0, inside / np.maximum(area, 1), corner.astype(np.float64))

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
