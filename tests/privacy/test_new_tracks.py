"""A person new to the scene is masked from their first analysed frame, before the tracker
confirms their track: on the real clip with the real model, wherever a track is first
reported, the frames before it (tentative track, or a detection no track took) are masked
in the live picture (`FrameMasks` with `tracked_now`, as the worker masks live JPEGs and
raw frames), in event snapshots (the boxes the worker writes beside them) and in the boxes
stored for playback (`BoxTrack`)."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
from playback_helpers import sharpness

from vigil.config.privacy import PrivacySettings
from vigil.config.schema import VigilConfig
from vigil.detection.classes import COCO_CLASSES
from vigil.detection.detections import Detections
from vigil.pipeline.build import build_engine
from vigil.privacy.boxes import BoxTrack, FrameBoxes
from vigil.privacy.masking import mask_frame, mask_snapshot, write_snapshot_boxes
from vigil.service.worker.masks import FrameMasks, tracked_now
from vigil.sources.video import VideoSource
from vigil.tracking.tracker import ByteTracker

FRAMES = 150
MIN_HEIGHT = 40.0  # pixels: people tall enough to measure sharpness in
PERSON = COCO_CLASSES.index("person")
SETTINGS = PrivacySettings(mask=["person"], mode="pixelate", **{"for": ["viewer"]})


def inner(box: np.ndarray, share: float = 0.8) -> np.ndarray:
    """The middle `share` of a box (the person moves a little between frames)."""
    centre, size = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) * share / 2
    return np.concatenate([centre - size, centre + size])


def test_new_people_are_masked_before_their_track_is_confirmed(
    shared_model: Path, shared_clip: Path, tmp_path: Path
) -> None:
    config = VigilConfig.model_validate({"detector": {"model": str(shared_model)}})
    source = VideoSource(shared_clip)
    engine, _ = build_engine(config, (source.width, source.height))
    masks = FrameMasks(SETTINGS, source.width, source.height)
    images: list[np.ndarray] = []
    live: list[np.ndarray] = []
    reported: list[Detections] = []
    stored: list[FrameBoxes] = []
    every: list[Detections] = []
    # One frame at a time, as the worker does: the tracker's state is that frame's.
    for n, frame in enumerate(itertools.islice(VideoSource(shared_clip), FRAMES)):
        result = engine.process(frame)
        excluded = engine.gate.excluded if result.detected else None
        tracked = tracked_now(result.objects, engine.tracker, excluded)
        images.append(result.frame.image)
        live.append(masks.masked(result.frame.image, tracked))
        reported.append(result.objects)
        every.append(tracked)
        names = [COCO_CLASSES[c] for c in tracked.class_id.tolist()]
        stored.append(FrameBoxes(float(n), tracked.xyxy, tracked.tracker_id, names))
    track = BoxTrack.from_frames(stored)

    seen = set(reported[0].tracker_id.tolist())  # the first frame starts tracks
    measured = 0
    for n in range(1, FRAMES):
        objects = reported[n]
        people = objects[objects.class_id == PERSON]
        for track_id, box in zip(people.tracker_id.tolist(), people.xyxy, strict=True):
            if track_id in seen:
                continue
            seen.add(track_id)
            if box[3] - box[1] < MIN_HEIGHT:
                continue
            # The frame before its first report: the person was there, not yet confirmed.
            before = n - 1
            region = inner(box)
            original = max(sharpness(images[before], region), 1e-6)
            live_ratio = sharpness(live[before], region) / original
            boxes, _, names = track.at(float(before))
            played = mask_frame(images[before].copy(), boxes[np.array(names) == "person"], SETTINGS)
            played_ratio = sharpness(played, region) / original
            # An event snapshot of that frame, masked when served from the boxes beside it.
            snapshot = tmp_path / f"{before}.jpg"
            cv2.imwrite(str(snapshot), images[before], [cv2.IMWRITE_JPEG_QUALITY, 95])
            objects_then = every[before]
            classes = [COCO_CLASSES[c] for c in objects_then.class_id.tolist()]
            ids = objects_then.tracker_id.tolist()
            write_snapshot_boxes(snapshot, objects_then.xyxy, classes, ids, None)
            served = cv2.imdecode(np.frombuffer(mask_snapshot(snapshot, SETTINGS), np.uint8), 1)
            snapshot_ratio = sharpness(served, region) / original
            assert snapshot_ratio <= 0.3, (track_id, before, box.tolist(), snapshot_ratio)
            assert live_ratio <= 0.3, (track_id, before, box.tolist(), live_ratio)
            assert played_ratio <= 0.3, (track_id, before, box.tolist(), played_ratio)
            measured += 1
    assert measured >= 3  # PETS09: people keep walking in


def test_people_left_out_by_static_polygons_are_still_masked() -> None:
    """A detection the static polygons leave out of analysis (mostly inside them) is not
    tracked, yet masked: the part of the person outside the polygons is not served."""
    tracker = ByteTracker(frame_size=(768, 576))
    tracker.update(Detections.empty(), 0.0)
    excluded = Detections(
        np.array([[300, 100, 420, 300]], np.float32),
        np.array([0.9], np.float32),
        np.array([PERSON], np.int64),
    )
    tracked = tracked_now(Detections.empty(), tracker, excluded)
    assert tracked.tracker_id.tolist() == [-1]
    np.testing.assert_array_equal(tracked.xyxy, excluded.xyxy)
    image = np.random.default_rng(0).integers(0, 255, (576, 768, 3), np.uint8)
    masked = FrameMasks(SETTINGS, 768, 576).masked(image, tracked)
    assert sharpness(masked, excluded.xyxy[0]) <= 0.3 * sharpness(image, excluded.xyxy[0])
