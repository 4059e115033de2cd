"""MOTChallenge text files: write tracker output, read tracker output or ground truth.

A row is `frame,id,x,y,w,h,conf,wx,wy,wz` (MOTChallenge 2D MOT 2015 layout): `frame` is
1-based (decode index + 1), `x,y` the top-left corner and `w,h` the size of the box in pixels.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import TextIO

import numpy as np

from vigil.detection.detections import Detections
from vigil.errors import VigilError

#: Number of columns `read_mot` returns (missing trailing columns are filled in).
MOT_COLUMNS = 10
_FILL = np.array([0, 0, 0, 0, 0, 0, 1, -1, -1, -1], dtype=np.float64)
_SPLIT = re.compile(r"\s*,\s*|\s+")


class MotWriter:
    """Writes tracked boxes as MOTChallenge rows `frame,id,x,y,w,h,conf,-1,-1,-1`.

    `frame` is `frame_index + 1` (decode index to 1-based MOT frame number); only boxes
    with `tracker_id >= 0` are written (and, if `class_ids` is given, only those classes).
    Boxes are written with 2 decimals, confidence with 3. Use as a context manager or call
    `close()`.
    """

    def __init__(self, path: str | Path, *, class_ids: Collection[int] | None = None) -> None:
        self.path = Path(path)
        self._class_ids = None if class_ids is None else np.asarray(sorted(class_ids), np.int64)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: TextIO | None = self.path.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise VigilError(f"cannot write MOT file {self.path}: {exc.strerror or exc}") from exc
        self.rows = 0

    def write(self, frame_index: int, detections: Detections) -> int:
        """Write the tracked boxes of one frame; returns how many rows were written."""
        if self._file is None:
            raise ValueError(f"MotWriter for {self.path} is closed")
        if frame_index < 0:
            raise ValueError(f"frame_index must be >= 0, got {frame_index}")
        keep = detections.tracker_id >= 0
        if self._class_ids is not None:
            keep &= np.isin(detections.class_id, self._class_ids)
        if not keep.any():
            return 0
        xyxy = detections.xyxy[keep].astype(np.float64)
        ids = detections.tracker_id[keep]
        conf = detections.confidence[keep].astype(np.float64)
        frame = int(frame_index) + 1
        w = xyxy[:, 2] - xyxy[:, 0]
        h = xyxy[:, 3] - xyxy[:, 1]
        lines = [
            f"{frame},{i},{x:.2f},{y:.2f},{ww:.2f},{hh:.2f},{c:.3f},-1,-1,-1\n"
            for i, x, y, ww, hh, c in zip(
                ids.tolist(),
                xyxy[:, 0].tolist(),
                xyxy[:, 1].tolist(),
                w.tolist(),
                h.tolist(),
                conf.tolist(),
                strict=True,
            )
        ]
        self._file.writelines(lines)
        self.rows += len(lines)
        return len(lines)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> MotWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_mot(path: str | Path) -> np.ndarray:
    """Read a MOTChallenge file into a float64 array of shape (N, 10).

    Accepts comma- (or whitespace-) separated rows with at least 6 columns
    (`frame,id,x,y,w,h`); missing columns are filled as conf 1 and world coords -1.
    Blank lines are skipped. Raises `VigilError` naming the file and line for a missing
    file, a non-numeric value, too few columns, or a frame number that is not an integer >= 1.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VigilError(f"MOT file not found: {path}") from None
    except IsADirectoryError:
        raise VigilError(f"MOT file is a directory: {path}") from None
    except UnicodeDecodeError:
        raise VigilError(f"MOT file is not text: {path}") from None
    except OSError as exc:
        raise VigilError(f"cannot read MOT file {path}: {exc.strerror or exc}") from None

    rows: list[list[float]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().rstrip(",")
        if not line:
            continue
        parts = _SPLIT.split(line)
        if len(parts) < 6:
            raise VigilError(
                f"{path}:{lineno}: expected at least 6 columns (frame,id,x,y,w,h), got {len(parts)}"
            )
        try:
            values = [float(p) for p in parts[:MOT_COLUMNS]]
        except ValueError:
            bad = next(p for p in parts[:MOT_COLUMNS] if not _is_float(p))
            raise VigilError(f"{path}:{lineno}: not a number: {bad!r}") from None
        if not all(np.isfinite(values)):
            raise VigilError(f"{path}:{lineno}: non-finite value in {line!r}")
        frame, track = values[0], values[1]
        if frame < 1 or frame != int(frame):
            raise VigilError(f"{path}:{lineno}: frame must be an integer >= 1, got {parts[0]!r}")
        if track != int(track):
            raise VigilError(f"{path}:{lineno}: id must be an integer, got {parts[1]!r}")
        if len(values) < MOT_COLUMNS:
            values.extend(_FILL[len(values) :].tolist())
        rows.append(values)
    if not rows:
        return np.empty((0, MOT_COLUMNS), dtype=np.float64)
    return np.asarray(rows, dtype=np.float64)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
