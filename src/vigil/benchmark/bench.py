"""`vigil bench`: speed of each stage and of the whole pipeline, measured side by side.

All figures come from one process and one run, so ratios compare like with like:
- decode only (PyAV, every frame to BGR) and detector only (full frames, configured input);
- the full pipeline with motion gating on and off (decode overlapped in a thread), and its
  efficiency: pipeline fps ÷ min(decode fps, detector fps) — 1.0 means the pipeline runs as
  fast as its slowest stage alone;
- a plain baseline in series: decode every frame, detect every full frame, same tracker;
- the hand-written reference: OpenCV decode, the model at its released fixed input size
  (YOLOX-Nano: 416×416, letterboxed square as in the YOLOX demo), same tracker, in series.
"""

from __future__ import annotations

import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vigil.config.schema import VigilConfig
from vigil.detection.onnx_backend import OnnxDetector
from vigil.errors import SourceError
from vigil.pipeline.build import build_detector, build_engine, class_ids
from vigil.sources.video import VideoSource, is_network_url
from vigil.tracking.tracker import ByteTracker, TrackerSettings


@dataclass
class Measurement:
    name: str
    fps: float
    note: str = ""


@dataclass
class BenchReport:
    source: str
    frames: int
    measurements: list[Measurement] = field(default_factory=list)
    ratios: dict[str, float] = field(default_factory=dict)
    gating: dict[str, float] = field(default_factory=dict)

    def fps(self, name: str) -> float:
        return next(m.fps for m in self.measurements if m.name == name)

    def render(self) -> str:
        lines = [f"vigil bench · {self.source} · {self.frames} frames per measurement", ""]
        width = max(len(m.name) for m in self.measurements)
        for m in self.measurements:
            lines.append(f"  {m.name:<{width}}  {m.fps:8.1f} fps  {m.note}")
        lines.append("")
        width = max(len(name) for name in self.ratios)
        for name, value in self.ratios.items():
            lines.append(f"  {name:<{width}}  {value:6.2f}×")
        if self.gating:
            lines.append("")
            lines.append(
                "  motion gating: detector skipped on {skipped:.0%} of frames, full-frame passes "
                "{full:.0%}, crops {crops:.0%}".format(**self.gating)
            )
        return "\n".join(lines)

    def to_json(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))


def _timed(fn) -> float:
    start = time.perf_counter()
    count = fn()
    return count / (time.perf_counter() - start)


def run_benchmark(config: VigilConfig, frames: int) -> BenchReport:
    url = config.source.url or ""
    source = VideoSource(url, config.source.id)
    size = (source.width, source.height)
    clip = list(itertools.islice(source, frames))
    frames = len(clip)
    report = BenchReport(url, frames)
    detector = build_detector(config)
    workers = config.detector.workers
    # In series, one inference at a time may as well use every thread the pipeline uses.
    serial_threads = max(config.detector.threads, workers)
    serial_config = config.model_copy(
        update={"detector": config.detector.model_copy(update={"threads": serial_threads})}
    )
    serial_detector = build_detector(serial_config)

    def decode_only() -> int:
        return sum(1 for _ in itertools.islice(VideoSource(url, config.source.id), frames))

    def detect_only() -> int:
        with ThreadPoolExecutor(workers) as pool:
            for _ in pool.map(lambda frame: detector.detect([frame.image]), clip):
                pass
        return frames

    detector.detect([clip[0].image])  # warm-up: session allocations, grids
    decode_fps = _timed(decode_only)
    detect_fps = _timed(detect_only)
    report.measurements += [
        Measurement("decode only", decode_fps, "PyAV → BGR"),
        Measurement(
            "detector only",
            detect_fps,
            f"full frames at input ≤ {detector.input_size}, {workers} in parallel",
        ),
    ]

    for gating in (True, False):
        engine, _ = build_engine(config, size, detector, gating=gating)
        regions: list[np.ndarray] = []
        fps = _timed(lambda e=engine, r=regions: _pipeline(e, url, config.source.id, frames, r))
        label = "pipeline, motion gating " + ("on" if gating else "off")
        report.measurements.append(
            Measurement(label, fps, "decode overlapped, detect, track, apps")
        )
        if gating:
            full = np.array([0, 0, *size], np.float32)
            counts = np.array([len(r) for r in regions])
            fulls = np.array([len(r) == 1 and np.array_equal(r[0], full) for r in regions])
            report.gating = {
                "skipped": float(np.mean(counts == 0)),
                "full": float(np.mean(fulls)),
                "crops": float(np.mean((counts > 0) & ~fulls)),
            }

    tracker_settings = config.tracker

    def plain() -> int:
        tracker = ByteTracker(tracker_settings, frame_size=size)
        for frame in itertools.islice(VideoSource(url, config.source.id), frames):
            detections = serial_detector.detect([frame.image])[0]
            tracker.update(detections, frame.pts, image=frame.image)
        return frames

    serial_detector.detect([clip[0].image])
    report.measurements.append(
        Measurement(
            "plain baseline",
            _timed(plain),
            f"in series, full frame every frame, {serial_threads} inference threads",
        )
    )
    reference = _reference_fps(url, serial_config, frames, tracker_settings)
    if reference is not None:
        report.measurements.append(reference)

    best = report.fps("pipeline, motion gating on")
    report.ratios = {
        "efficiency, gating on (pipeline ÷ min(decode, detector))": best
        / min(decode_fps, detect_fps),
        "efficiency, gating off": report.fps("pipeline, motion gating off")
        / min(decode_fps, detect_fps),
        "speed-up vs plain baseline": best / report.fps("plain baseline"),
    }
    if reference is not None:
        report.ratios["speed-up vs hand-written reference"] = best / reference.fps
    return report


def _pipeline(engine, url: str, source_id: str, frames: int, regions: list[np.ndarray]) -> int:
    for result in engine.run(itertools.islice(VideoSource(url, source_id), frames)):
        regions.append(result.regions)
    return frames


def _reference_fps(
    url: str, config: VigilConfig, frames: int, tracker_settings: TrackerSettings
) -> Measurement | None:
    """OpenCV decode + the model at its fixed released input size, in series."""
    if is_network_url(url):
        return None
    d = config.detector
    detector = OnnxDetector(
        d.model,
        conf_threshold=d.confidence,
        nms_iou=d.nms_iou,
        classes=class_ids(d.classes),
        threads=d.threads,
        decoder=d.decoder,
        reshape=False,
    )

    def reference() -> int:
        capture = cv2.VideoCapture(url)
        if not capture.isOpened():
            raise SourceError(f"OpenCV cannot open {url}")
        size = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        tracker = ByteTracker(tracker_settings, frame_size=size)
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        count = 0
        while count < frames:
            ok, image = capture.read()
            if not ok:
                break
            tracker.update(detector.detect([image])[0], count / fps, image=image)
            count += 1
        capture.release()
        return count

    detector.detect([np.zeros((64, 64, 3), np.uint8)])  # warm-up, as for the others
    fps = _timed(reference)
    w, h = detector.input_size
    return Measurement(
        "hand-written reference",
        fps,
        f"OpenCV decode, fixed {w}×{h} input, in series, {d.threads} inference threads",
    )
