"""A camera's privacy policy applied to what its worker publishes (`vigil.privacy.masking`).

Live JPEGs and raw frames leave the worker masked: the tracked objects of the masked classes
when the policy masks them for any role, and the static polygons always. An unmasked live
JPEG (static polygons still burned in) is made only while someone entitled to it watches
(`LiveDemand.unmasked`). Event snapshots are written unmasked (the record) with the frame's
tracked boxes beside them, so that the API masks them when it serves them.

The boxes come from the tracker, not the detector alone: a track the detector missed on this
frame (lost, not yet forgotten) is masked at its predicted place, and a person the tracker
has not confirmed yet (tentative track, or a detection no track took) is masked too.
"""

from __future__ import annotations

import numpy as np

from vigil.config.privacy import PrivacySettings
from vigil.detection.classes import COCO_CLASSES
from vigil.detection.detections import Detections
from vigil.privacy.masking import mask_frame, static_mask
from vigil.tracking.tracker import ByteTracker


class FrameMasks:
    """The masks of one policy for pictures of one size."""

    def __init__(self, settings: PrivacySettings, width: int, height: int):
        self.settings = settings
        self.size = (width, height)
        self.masks_objects = bool(settings.mask) and bool(settings.roles)
        self.static = static_mask(settings, width, height)
        self._classes = np.array(
            [i for i, name in enumerate(COCO_CLASSES) if name in settings.mask], np.int64
        )

    @property
    def masks_anything(self) -> bool:
        return self.masks_objects or self.static is not None

    def masked(self, image: np.ndarray, tracked: Detections) -> np.ndarray:
        """A copy of `image` as served to a role the policy masks."""
        if not self.masks_objects:
            return self.unmasked(image)
        boxes = tracked.xyxy[np.isin(tracked.class_id, self._classes)]
        return mask_frame(image.copy(), boxes, self.settings, self.static)

    def unmasked(self, image: np.ndarray) -> np.ndarray:
        """`image` as served to a role the policy does not mask: the static polygons only
        (`image` itself when there are none: the caller only reads it)."""
        if self.static is None:
            return image
        return mask_frame(image.copy(), np.empty((0, 4), np.float32), self.settings, self.static)


def tracked_now(
    objects: Detections, tracker: ByteTracker, excluded: Detections | None = None
) -> Detections:
    """Everything to mask on the frame: its tracked objects; the confirmed tracks not among
    them (lost, coasting unseen) at their predicted place; the tracker's tentative tracks and
    the detections no track took (a person new to the scene is masked from their first
    analysed frame, before the track is confirmed; tracker id -1 where there is no track);
    and the detections left out of analysis by the static polygons (`excluded`: the part of
    such a person outside the polygons)."""
    forecast, _ = tracker.forecast(0)
    unseen = forecast[~np.isin(forecast.tracker_id, objects.tracker_id)]
    unseen.confidence = np.zeros(len(unseen), np.float32)  # not seen on this frame
    parts = [unseen, tracker.unconfirmed()]
    if excluded is not None:
        parts.append(Detections(excluded.xyxy, excluded.confidence, excluded.class_id))
    parts = [part for part in parts if len(part)]
    if not parts:
        return objects
    merged = Detections.merge([objects, *parts])
    merged.xyxy = merged.xyxy.astype(np.float32, copy=False)
    return merged
