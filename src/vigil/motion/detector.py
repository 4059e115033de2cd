"""Cheap motion detection on a downscaled grayscale frame (Frigate's main CPU saving).

A running-average background is compared with each new frame; changed pixels are
thresholded, dilated into blobs and returned as boxes in full-frame pixels. On a frame halved
down to ~120–240 px high this costs about a tenth of a millisecond, so it can decide where the
detector should look.
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class MotionSettings(BaseModel):
    """Motion detection and gating; also the `motion:` section of the YAML configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """Gate the detector by motion; off: detect on every full frame."""
    scale_height: int = Field(120, ge=16)
    """Motion is computed on the frame halved until it is less than twice this height."""
    threshold: int = Field(25, ge=1, le=255)
    """Grey-level change that counts as motion."""
    min_area: float = Field(0.0005, ge=0, lt=1)
    """Smallest motion region, as a fraction of the frame."""
    learning_rate: float = Field(0.1, gt=0, le=1)
    """How fast the background model follows the picture."""
    full_frame_every: int = Field(10, ge=1)
    """Frames between full-frame detector passes."""
    track_margin: float = Field(0.5, ge=0)
    """Look this many box sizes around a moving track."""
    moving_speed: float = Field(0.5, ge=0)
    """Pixels per frame below which a track counts as stationary."""
    max_regions: int = Field(4, ge=1)
    """More crops than this and one full-frame pass is used instead."""


def small_gray(image: np.ndarray, scale_height: int) -> np.ndarray:
    """`image` (BGR) in grey, halved until it is less than twice `scale_height` high."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    # Halving with a Gaussian pyramid smooths as it shrinks, and costs a tenth of an
    # arbitrary-ratio area resize.
    for _ in range(max(0, int(np.log2(image.shape[0] / scale_height)))):
        gray = cv2.pyrDown(gray)
    return gray


class MotionDetector:
    def __init__(self, settings: MotionSettings | None = None, exclude: np.ndarray | None = None):
        self.settings = settings or MotionSettings()
        self.exclude = exclude
        """Where motion is ignored: a (H, W) mask in frame pixels, non-zero inside (a
        camera's static privacy polygons, `vigil.privacy.masking.static_mask`), or None."""
        self._background: np.ndarray | None = None
        self._excluded: tuple[np.ndarray, tuple[int, ...], np.ndarray] | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Boxes (K, 4) xyxy in frame pixels where the picture changed since recent frames."""
        s = self.settings
        h, w = image.shape[:2]
        small = small_gray(image, s.scale_height).astype(np.float32)
        if self._background is None or self._background.shape != small.shape:
            self._background = small
            return np.empty((0, 4), np.float32)
        delta = cv2.absdiff(small, self._background)
        cv2.accumulateWeighted(small, self._background, s.learning_rate)
        moved = delta > s.threshold
        if self.exclude is not None:
            moved &= ~self._excluded_at(moved.shape)
        mask = cv2.dilate(moved.astype(np.uint8), self._kernel, iterations=2)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        stats = stats[1:count]
        big = stats[:, cv2.CC_STAT_AREA] >= s.min_area * mask.size
        x, y, bw, bh = (stats[big, i].astype(np.float32) for i in range(4))
        boxes = np.stack([x, y, x + bw, y + bh], axis=1)
        return boxes * np.array([w / mask.shape[1], h / mask.shape[0]] * 2, np.float32)

    def _excluded_at(self, shape: tuple[int, ...]) -> np.ndarray:
        """`exclude` at the motion picture's size (any excluded pixel excludes its cell),
        scaled once per mask and size."""
        assert self.exclude is not None
        cached = self._excluded
        if cached is None or cached[0] is not self.exclude or cached[1] != shape:
            small = cv2.resize(self.exclude, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
            cached = self._excluded = (self.exclude, shape, small > 0)
        return cached[2]
