"""Score a MOTChallenge tracker file against ground truth with TrackEval's metric classes.

TrackEval's HOTA, CLEAR and Identity metrics are run directly on in-memory data (the
per-timestep dict their `eval_sequence` expects), bypassing its dataset-folder layout.

Preprocessing follows TrackEval's MOTChallenge2DBox loader for the MOT15 benchmark:
ground-truth rows with conf 0 are removed ("zero-marked", not to be evaluated); MOT15 2D
ground truth has no class column (columns 8–10 are world coordinates), so there are no
distractor classes and no tracker boxes are removed for matching them. Tracker rows are
all kept regardless of their confidence. IoU is the box similarity; CLEAR and Identity
match at IoU >= 0.5, HOTA averages over IoU thresholds 0.05..0.95.

Evaluated frames are `1..max frame of the ground truth` unless `frames` is given; rows of
either file outside the evaluated frames are ignored (a prediction for a whole clip can be
scored against ground truth for its first part).

Run `python -m vigil.evaluation.mot_eval PRED GT [--frames 1-400]` to print the scores.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from vigil.errors import VigilError
from vigil.evaluation.motchallenge import read_mot

__all__ = [
    "MotScores",
    "trackeval_metrics",
    "evaluate_arrays",
    "evaluate_mot",
    "format_scores",
    "box_iou",
    "main",
]


@dataclass(frozen=True, slots=True)
class MotScores:
    """Tracking scores. Ratios are percentages (0–100); counts are integers.

    `hota`, `deta`, `assa`: HOTA, detection and association accuracy averaged over IoU
    thresholds 0.05..0.95. `mota`, `motp` (mean IoU of matches), `idsw`, `fp`, `fn`,
    `recall`, `precision`, `mt`/`pt`/`ml` (mostly tracked / partly / mostly lost gt tracks),
    `frag`: CLEAR MOT at IoU 0.5. `idf1`, `idp`, `idr`: identity metrics at IoU 0.5.
    `gt_ids`/`pred_ids`: distinct track ids, `gt_dets`/`pred_dets`: boxes, `frames`:
    number of evaluated frames.
    """

    hota: float
    deta: float
    assa: float
    mota: float
    motp: float
    idf1: float
    idsw: int
    fp: int
    fn: int
    gt_ids: int
    pred_ids: int
    frames: int
    idp: float = 0.0
    idr: float = 0.0
    recall: float = 0.0
    precision: float = 0.0
    mt: int = 0
    pt: int = 0
    ml: int = 0
    frag: int = 0
    gt_dets: int = 0
    pred_dets: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of boxes given as (x, y, w, h); 0 for degenerate boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax0, ay0 = a[:, 0:1], a[:, 1:2]
    ax1, ay1 = ax0 + a[:, 2:3], ay0 + a[:, 3:4]
    bx0, by0 = b[:, 0], b[:, 1]
    bx1, by1 = bx0 + b[:, 2], by0 + b[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    area_a = np.clip(a[:, 2], 0, None) * np.clip(a[:, 3], 0, None)
    area_b = np.clip(b[:, 2], 0, None) * np.clip(b[:, 3], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    eps = np.finfo(np.float64).eps
    valid = (union > eps) & (area_a[:, None] > eps) & (area_b[None, :] > eps)
    return np.where(valid, inter / np.where(valid, union, 1.0), 0.0)


def _split_timesteps(
    rows: np.ndarray, frames: np.ndarray, name: str
) -> tuple[list[np.ndarray], list[np.ndarray], int, int]:
    """Per evaluated frame: contiguous ids and xywh boxes. Returns (ids, boxes, n_ids, n_dets)."""
    n_t = len(frames)
    frame_no = rows[:, 0].astype(np.int64)
    t = np.searchsorted(frames, frame_no)
    inside = (t < n_t) & (frames[np.minimum(t, n_t - 1)] == frame_no) if n_t else t < 0
    rows, t = rows[inside], t[inside]
    order = np.argsort(t, kind="stable")
    rows, t = rows[order], t[order]
    raw_ids = rows[:, 1].astype(np.int64)
    # One box per id and frame, as TrackEval requires.
    if len(rows):
        key = t * (int(raw_ids.max() - raw_ids.min()) + 1) + (raw_ids - raw_ids.min())
        uniq, counts = np.unique(key, return_counts=True)
        if (counts > 1).any():
            dup = np.flatnonzero(key == uniq[np.argmax(counts > 1)])[0]
            raise VigilError(
                f"{name}: id {raw_ids[dup]} appears more than once in frame {frames[t[dup]]}"
            )
    unique_ids, contiguous = np.unique(raw_ids, return_inverse=True)
    bounds = np.searchsorted(t, np.arange(n_t + 1))
    boxes = rows[:, 2:6]
    ids_t = [contiguous[bounds[i] : bounds[i + 1]] for i in range(n_t)]
    boxes_t = [boxes[bounds[i] : bounds[i + 1]] for i in range(n_t)]
    return ids_t, boxes_t, len(unique_ids), len(rows)


def _as_rows(rows: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(rows, dtype=np.float64)
    if arr.size == 0:
        return np.empty((0, 10), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 6:
        raise VigilError(f"{name}: expected MOT rows of shape (N, >=6), got {arr.shape}")
    return arr


# TrackEval is not in the core install: its metadata asks for GUI OpenCV (opencv-python, which
# needs libGL and takes over opencv-python-headless's cv2), matplotlib and pillow, none of which
# its metric classes use. These are requirements/eval.in's lines, which a test keeps in step.
TRACKEVAL_REQUIREMENTS = ("trackeval>=1.3", "pycocotools>=2.0.10", "tabulate>=0.9")


def trackeval_metrics() -> ModuleType:
    """`trackeval.metrics`, imported lazily (~0.5 s); a VigilError saying how to install it."""
    try:
        from trackeval import metrics
    except ImportError as err:
        wanted = " ".join(f"'{r}'" for r in TRACKEVAL_REQUIREMENTS)
        raise VigilError(
            f"vigil eval needs TrackEval, which the core install leaves out ({err}): "
            f"pip install --no-deps {wanted}"
        ) from err
    return metrics


def _frames_array(frames: Iterable[int] | None, gt: np.ndarray) -> np.ndarray:
    if frames is None:
        if len(gt) == 0:
            raise VigilError("ground truth has no rows to evaluate (all missing or conf 0)")
        return np.arange(1, int(gt[:, 0].max()) + 1, dtype=np.int64)
    arr = np.unique(np.fromiter((int(f) for f in frames), dtype=np.int64))
    if len(arr) == 0:
        raise VigilError("no frames to evaluate (empty frame range)")
    if arr[0] < 1:
        raise VigilError(f"evaluated frames are 1-based MOT frame numbers, got {int(arr[0])}")
    return arr


def evaluate_arrays(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    frames: Iterable[int] | None = None,
    pred_name: str = "prediction",
    gt_name: str = "ground truth",
) -> MotScores:
    """Score MOT rows (as returned by `read_mot`) against ground-truth rows.

    `frames` are 1-based MOT frame numbers to evaluate; default: 1..max gt frame.
    Ground-truth rows with conf 0 are dropped; rows outside the evaluated frames are ignored.
    """
    metrics = trackeval_metrics()
    pred = _as_rows(pred, pred_name)
    gt = _as_rows(gt, gt_name)
    if gt.shape[1] >= 7:
        gt = gt[gt[:, 6] != 0]
    frames_arr = _frames_array(frames, gt)

    gt_ids, gt_boxes, n_gt_ids, n_gt_dets = _split_timesteps(gt, frames_arr, gt_name)
    tr_ids, tr_boxes, n_tr_ids, n_tr_dets = _split_timesteps(pred, frames_arr, pred_name)
    similarity = [box_iou(g, p) for g, p in zip(gt_boxes, tr_boxes, strict=True)]

    data = {
        "seq": "vigil",
        "num_timesteps": len(frames_arr),
        "num_gt_ids": n_gt_ids,
        "num_tracker_ids": n_tr_ids,
        "num_gt_dets": n_gt_dets,
        "num_tracker_dets": n_tr_dets,
        "gt_ids": gt_ids,
        "tracker_ids": tr_ids,
        "similarity_scores": similarity,
    }
    quiet = {"PRINT_CONFIG": False}
    hota = metrics.HOTA().eval_sequence(data)
    clear = metrics.CLEAR(quiet).eval_sequence(data)
    ident = metrics.Identity(quiet).eval_sequence(data)

    def pct(value: Any) -> float:
        return round(float(np.mean(value)) * 100.0, 6)

    return MotScores(
        hota=pct(hota["HOTA"]),
        deta=pct(hota["DetA"]),
        assa=pct(hota["AssA"]),
        mota=pct(clear["MOTA"]),
        motp=pct(clear["MOTP"]),
        idf1=pct(ident["IDF1"]),
        idsw=int(clear["IDSW"]),
        fp=int(clear["CLR_FP"]),
        fn=int(clear["CLR_FN"]),
        gt_ids=n_gt_ids,
        pred_ids=n_tr_ids,
        frames=len(frames_arr),
        idp=pct(ident["IDP"]),
        idr=pct(ident["IDR"]),
        recall=pct(clear["CLR_Re"]),
        precision=pct(clear["CLR_Pr"]),
        mt=int(clear["MT"]),
        pt=int(clear["PT"]),
        ml=int(clear["ML"]),
        frag=int(clear["Frag"]),
        gt_dets=n_gt_dets,
        pred_dets=n_tr_dets,
    )


def evaluate_mot(pred: Path, gt: Path, *, frames: range | None = None) -> MotScores:
    """Score the MOTChallenge file `pred` against the ground-truth file `gt` (see module doc)."""
    return evaluate_arrays(
        read_mot(pred), read_mot(gt), frames=frames, pred_name=str(pred), gt_name=str(gt)
    )


_COLUMNS: Sequence[tuple[str, str, str]] = (
    ("HOTA", "hota", "{:.2f}"),
    ("DetA", "deta", "{:.2f}"),
    ("AssA", "assa", "{:.2f}"),
    ("MOTA", "mota", "{:.2f}"),
    ("MOTP", "motp", "{:.2f}"),
    ("IDF1", "idf1", "{:.2f}"),
    ("IDSW", "idsw", "{:d}"),
    ("FP", "fp", "{:d}"),
    ("FN", "fn", "{:d}"),
    ("Rcll", "recall", "{:.2f}"),
    ("Prcn", "precision", "{:.2f}"),
    ("GT ids", "gt_ids", "{:d}"),
    ("Pred ids", "pred_ids", "{:d}"),
    ("Frames", "frames", "{:d}"),
)


def format_scores(scores: MotScores) -> str:
    """A compact two-line, right-aligned table of the main scores."""
    heads = [h for h, _, _ in _COLUMNS]
    cells = [fmt.format(getattr(scores, attr)) for _, attr, fmt in _COLUMNS]
    widths = [max(len(h), len(c)) for h, c in zip(heads, cells, strict=True)]
    head = "  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))
    row = "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
    return f"{head}\n{row}"


def _parse_frames(text: str) -> range:
    try:
        first, _, last = text.partition("-")
        start = int(first)
        stop = int(last) if last else start
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected FIRST-LAST (e.g. 1-400), got {text!r}"
        ) from None
    if start < 1 or stop < start:
        raise argparse.ArgumentTypeError(f"expected 1 <= FIRST <= LAST, got {text!r}")
    return range(start, stop + 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vigil.evaluation.mot_eval",
        description="Score a MOTChallenge tracker file against ground truth (HOTA, CLEAR, ID).",
    )
    parser.add_argument("pred", type=Path, help="tracker output, MOTChallenge format")
    parser.add_argument("gt", type=Path, help="ground truth, MOTChallenge format")
    parser.add_argument(
        "--frames",
        type=_parse_frames,
        default=None,
        help="1-based frame range FIRST-LAST to evaluate (default: 1..last ground-truth frame)",
    )
    args = parser.parse_args(argv)
    try:
        scores = evaluate_mot(args.pred, args.gt, frames=args.frames)
    except VigilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_scores(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
