"""Helpers of the masked playback tests: a recorded segment of the real clip with the boxes
the real engine tracked in it, and sharpness inside boxes."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from api.site import REAL_RECORDING_MODULE, T0, Site
from vigil.api import deps as api_deps
from vigil.config.schema import VigilConfig
from vigil.detection.classes import COCO_CLASSES
from vigil.pipeline.build import build_engine
from vigil.privacy.boxes import BoxTrack, FrameBoxes, boxes_path, write_boxes
from vigil.recording import SegmentIndex
from vigil.service.messages import SegmentInfo
from vigil.sources.video import VideoSource

FPS = 10
ANALYSE_EVERY = 2  # boxes stored for every 2nd frame (detect_fps 5): the rest interpolated


@dataclass(frozen=True)
class RealSegment:
    path: Path
    track: BoxTrack
    frames: int


def record_real_segment(folder: Path, model: Path, clip: Path, frames: int) -> RealSegment:
    """The first `frames` frames of the clip recorded as an H.264 segment (a keyframe every
    second, no B-frames, like a camera), and the boxes the real engine tracked in them
    (every `ANALYSE_EVERY`-th frame) stored beside it."""
    config = VigilConfig.model_validate({"detector": {"model": str(model)}})
    source = VideoSource(clip)
    engine, _ = build_engine(config, (source.width, source.height))
    path = folder / "00-00-00.000.mp4"
    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = source.width, source.height, "yuv420p"
    stream.options = {"preset": "veryfast", "x264-params": "keyint=10:scenecut=0:bframes=0"}
    stored: list[FrameBoxes] = []
    for n, result in enumerate(engine.run(itertools.islice(VideoSource(clip), frames))):
        picture = av.VideoFrame.from_ndarray(result.frame.image, format="bgr24")
        picture.pts = n
        for packet in stream.encode(picture):
            out.mux(packet)
        if n % ANALYSE_EVERY == 0:
            objects = result.objects
            names = [COCO_CLASSES[c] for c in objects.class_id.tolist()]
            stored.append(FrameBoxes(n / FPS, objects.xyxy, objects.tracker_id, names))
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    track = BoxTrack.from_frames(stored)
    write_boxes(path, track)
    return RealSegment(path, track, frames)


@pytest.fixture(scope="module")
def real_segment(
    tmp_path_factory: pytest.TempPathFactory, shared_model: Path, shared_clip: Path
) -> RealSegment:
    """3 s of the real clip recorded as a segment, with the real engine's boxes beside it."""
    return record_real_segment(tmp_path_factory.mktemp("segment"), shared_model, shared_clip, 30)


@pytest.fixture
def recorded(site: Site, real_segment: RealSegment, monkeypatch: pytest.MonkeyPatch) -> int:
    """The real segment recorded by cam1 at T0 (with its boxes), in a real index."""
    monkeypatch.setattr(api_deps, "load_recording", REAL_RECORDING_MODULE)
    folder = site.tmp / "data" / "recordings" / "cam1"
    folder.mkdir(parents=True)
    path = Path(shutil.copy(real_segment.path, folder))
    shutil.copy(boxes_path(real_segment.path), folder)
    index = SegmentIndex(site.store.database)
    site.state.index = index
    info = SegmentInfo("cam1", str(path), T0, T0 + real_segment.frames / FPS, path.stat().st_size)
    return index.add(info).id


def decoded(path: Path) -> list[np.ndarray]:
    """Every frame of a video, BGR."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def sharpness(image: np.ndarray, box: np.ndarray) -> float:
    """Variance of the Laplacian inside `box` (x1, y1, x2, y2)."""
    height, width = image.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(width, int(box[2])), min(height, int(box[3]))
    grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def person_boxes(
    track: BoxTrack, t: float, min_height: float = 40.0
) -> tuple[np.ndarray, np.ndarray]:
    """The boxes and track ids of the people at `t` tall enough to measure."""
    boxes, ids, names = track.at(t)
    chosen = (np.array(names, dtype=object) == "person") & (boxes[:, 3] - boxes[:, 1] >= min_height)
    return boxes[chosen], ids[chosen]


def assert_people_masked(
    masked: list[np.ndarray], original: list[np.ndarray], track: BoxTrack, first: int = 0
) -> int:
    """Sharpness inside every person's box <= 0.3x the original's, on every 3rd frame of
    `masked` (its frame i is the original's frame `first` + i); returns how many boxes."""
    measured = 0
    for i in range(0, len(masked), 3):
        n = first + i
        boxes, _ = person_boxes(track, n / FPS)
        for box in boxes:
            ratio = sharpness(masked[i], box) / max(sharpness(original[n], box), 1e-6)
            assert ratio <= 0.3, (n, box.tolist(), ratio)
            measured += 1
    return measured
