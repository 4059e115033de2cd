"""What masking a live frame costs: ms per 720p frame, on one core, per mode and box count.

    python benchmarks/privacy_masking.py [VIDEO] [--repeat N]

A frame of the sample clip (../shared/data/vtest.avi) scaled to 1280x720, with 1, 5 and 20
person-sized boxes (64x170 px, 10 % margin) spread over it, masked with `mask_frame` in each
mode, whole box and upper part; against the baseline every live frame pays anyway: encoding
the same frame to JPEG unmasked (quality 70, as the worker's live view). OpenCV runs on one
thread. The target: <= 1 ms for 20 boxes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from vigil.config.privacy import PrivacySettings
from vigil.privacy.masking import mask_frame

SHARED = Path(__file__).resolve().parents[2] / "shared"
SIZE = (1280, 720)
BOX = (64, 170)
TARGET_MS = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", default=SHARED / "data" / "vtest.avi", type=Path)
    parser.add_argument("--repeat", type=int, default=300, help="frames timed per row")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    capture = cv2.VideoCapture(str(args.video))
    ok, picture = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"{args.video}: no frame could be read")
    frame = cv2.resize(picture, SIZE, interpolation=cv2.INTER_LINEAR)

    encode = _ms(
        lambda image: cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70]),
        frame,
        args.repeat,
    )
    print(f"720p frame, one thread, median of {args.repeat} runs")
    print(f"baseline: unmasked JPEG encode (q70) {encode:.3f} ms\n")
    print(f"{'mode':<9} {'part':<6} {'1 box':>8} {'5 boxes':>8} {'20 boxes':>9} {'20 vs JPEG':>11}")
    worst = 0.0
    for mode in ("blur", "pixelate", "solid"):
        for part in ("box", "upper"):
            settings = PrivacySettings(mask=["person"], mode=mode, part=part)
            row = []
            for count in (1, 5, 20):
                work = partial(_mask, boxes=_boxes(count), settings=settings)
                row.append(_ms(work, frame, args.repeat))
            worst = max(worst, row[-1])
            print(
                f"{mode:<9} {part:<6} {row[0]:>8.3f} {row[1]:>8.3f} {row[2]:>9.3f}"
                f" {100 * row[2] / encode:>10.0f}%"
            )
    verdict = "meets" if worst <= TARGET_MS else "misses"
    print(f"\nworst 20-box case {worst:.3f} ms: {verdict} the {TARGET_MS:g} ms target")


def _mask(image: np.ndarray, boxes: np.ndarray, settings: PrivacySettings) -> None:
    mask_frame(image, boxes, settings)


def _boxes(count: int) -> np.ndarray:
    """`count` person-sized boxes spread evenly over the picture (on a 5x4 grid)."""
    cols, rows = 5, 4
    index = np.arange(count)
    x = (index % cols) * (SIZE[0] - BOX[0]) / (cols - 1)
    y = (index // cols % rows) * (SIZE[1] - BOX[1]) / (rows - 1)
    return np.stack([x, y, x + BOX[0], y + BOX[1]], axis=1).astype(np.float32)


def _ms(work: Callable[[np.ndarray], object], frame: np.ndarray, repeat: int) -> float:
    """Median milliseconds of `work` on a fresh copy of `frame` (the copy not timed)."""
    times = []
    for _ in range(repeat):
        image = frame.copy()
        start = time.perf_counter()
        work(image)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


if __name__ == "__main__":
    main()
