"""Detector speed per execution provider, model and batch size, side by side in one run.

Frames of a clip (default the sample clip) go through `OnnxDetector.detect` exactly as `vigil
run` sends them (whole frames, letterboxed to `--input-size`), each configuration in turn on
the same frames, round-robin so that load from elsewhere falls on all of them alike. Prints
ms per image (median and p90 of the calls, divided by the batch) and images per second.

    python benchmarks/detector_devices.py                      # every device installed, FP32
    python benchmarks/detector_devices.py --model yolox-nano --model yolox_nano-int8.onnx \\
        --device cpu --device openvino --batch 1 --batch 8 --json out.json

`--device` takes `detector.device` values (auto, cpu, cuda, tensorrt, openvino); a missing one
is the detector's one-line error. Runs in any environment with onnxruntime (or
onnxruntime-gpu / onnxruntime-openvino), numpy, onnx and OpenCV, with PYTHONPATH at src.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from vigil.detection.onnx_backend import OnnxDetector
from vigil.detection.providers import available_devices
from vigil.errors import VigilError

CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "vtest.avi"


def read_frames(clip: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if not frames:
        raise VigilError(f"no frames decoded from {clip}")
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--model", action="append", help="name or path (repeat) [yolox-nano]")
    parser.add_argument("--device", action="append", help="repeat [every device installed]")
    parser.add_argument("--batch", type=int, action="append", help="repeat [1]")
    parser.add_argument("--input-size", type=int, nargs=2, default=(416, 416), metavar=("W", "H"))
    parser.add_argument("--frames", type=int, default=64, help="frames timed per config")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per inference")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    models = args.model or ["yolox-nano"]
    devices = args.device or available_devices()
    batches = args.batch or [1]
    try:
        frames = read_frames(args.clip, args.frames)
        detectors = {
            (model, device): OnnxDetector(
                model, input_size=tuple(args.input_size), threads=args.threads, device=device
            )
            for model, device in itertools.product(models, devices)
        }
    except VigilError as error:
        sys.exit(f"detector_devices: {error}")
    configs = list(itertools.product(detectors, batches))
    for key, batch in configs:  # warm-up: first runs allocate and (TensorRT) build engines
        detectors[key].detect(frames[:batch])
    calls: dict[tuple, list[float]] = {config: [] for config in configs}
    for start in range(0, len(frames), max(batches)):
        for key, batch in configs:
            chunk = frames[start : start + max(batches)]
            for offset in range(0, len(chunk), batch):
                images = chunk[offset : offset + batch]
                began = time.perf_counter()
                detectors[key].detect(images)
                calls[(key, batch)].append((time.perf_counter() - began) * 1000 / len(images))
    rows = []
    for (model, device), batch in configs:
        ms = calls[((model, device), batch)]
        median = statistics.median(ms)
        rows.append(
            {
                "model": model,
                "device": detectors[(model, device)].device_choice.device,
                "batch": batch,
                "input": detectors[(model, device)].input_shape_for(*frames[0].shape[1::-1]),
                "ms_per_image": round(median, 2),
                "p90_ms": round(float(np.percentile(ms, 90)), 2),
                "images_per_s": round(1000 / median, 1),
            }
        )
    print(
        f"{'model':<28} {'device':<9} {'batch':>5} {'input':>9} {'ms/img':>7} {'p90':>7} {'img/s':>7}"
    )
    for r in rows:
        size = "x".join(map(str, r["input"]))
        print(
            f"{Path(r['model']).name:<28} {r['device']:<9} {r['batch']:>5} {size:>9} "
            f"{r['ms_per_image']:>7} {r['p90_ms']:>7} {r['images_per_s']:>7}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
