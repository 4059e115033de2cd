"""An event's snapshot as the worker keeps it: the frame unmasked (the record), the crop of
its object beside it, and the frame's tracked boxes (the API masks both pictures with them
when it serves them)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from vigil.detection.classes import COCO_CLASSES
from vigil.detection.detections import Detections
from vigil.events.event import Event, is_event_id
from vigil.privacy.masking import crop_region, snapshot_crop_path, write_snapshot_boxes

log = logging.getLogger("vigil.worker")

SNAPSHOT_QUALITY = 85


def write_snapshot(
    snapshots: Path, camera: str, event: Event, image: np.ndarray, tracked: Detections
) -> str | None:
    """Write the event's snapshot unmasked (the record), the crop of its object beside it
    (`crop_region`), the frame's tracked boxes and the crop's place (the API masks both
    pictures with them when it serves them), and the event object's box into the event
    (``attributes["box"]``)."""
    # Event ids are Vigil's (`vigil.apps.boundary`); a name that is anything else
    # (a path from an app) never becomes a file.
    if not is_event_id(event.id):
        log.error("camera %s: no snapshot for event id %s", camera, ascii(event.id)[:80])
        return None
    path = snapshots / f"{event.id}.jpg"
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_QUALITY])
    if not ok:
        return None
    path.write_bytes(jpeg.tobytes())
    own = tracked.xyxy[tracked.tracker_id == event.track_id]
    box = None
    if event.track_id is not None and len(own):
        box = [round(v, 1) for v in own[0].tolist()]
    if box is not None:
        event.attributes.setdefault("box", box)
    height, width = image.shape[:2]
    crop = None if box is None else crop_region(box, width, height)
    if crop is not None:
        x1, y1, x2, y2 = crop
        ok, jpeg = cv2.imencode(
            ".jpg", image[y1:y2, x1:x2], [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_QUALITY]
        )
        if ok:
            snapshot_crop_path(path).write_bytes(jpeg.tobytes())
        else:
            crop = None
    classes = [COCO_CLASSES[c] for c in tracked.class_id.tolist()]
    write_snapshot_boxes(
        path, tracked.xyxy, classes, tracked.tracker_id.tolist(), box, crop, (width, height)
    )
    return str(path)
