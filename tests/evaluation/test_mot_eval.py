import time
from pathlib import Path

import numpy as np
import pytest

from vigil.errors import VigilError
from vigil.evaluation.mot_eval import (
    MotScores,
    box_iou,
    evaluate_arrays,
    evaluate_mot,
    format_scores,
    main,
)
from vigil.evaluation.motchallenge import read_mot

REAL_GT = Path(__file__).resolve().parents[3] / "shared" / "eval" / "PETS09-S2L1-dev" / "gt.txt"

A = (0.0, 0.0, 10.0, 10.0)
B = (100.0, 0.0, 10.0, 10.0)
FAR = (300.0, 300.0, 10.0, 10.0)


def rows(*items: tuple) -> np.ndarray:
    """(frame, id, (x, y, w, h)[, conf]) -> MOT rows."""
    out = []
    for it in items:
        frame, tid, box = it[:3]
        conf = it[3] if len(it) > 3 else 1.0
        out.append([frame, tid, *box, conf, -1, -1, -1])
    return np.asarray(out, dtype=np.float64).reshape(-1, 10)


def write(path: Path, data: np.ndarray) -> Path:
    path.write_text("".join(",".join(f"{v:g}" for v in r) + "\n" for r in data))
    return path


def two_tracks(n_frames: int) -> np.ndarray:
    return rows(*[(f, i, box) for f in range(1, n_frames + 1) for i, box in ((1, A), (2, B))])


def test_box_iou_values() -> None:
    iou = box_iou(np.array([A, (0, 0, 0, 10)]), np.array([A, (5, 0, 10, 10), (0, 0, 10, 20), FAR]))
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.5, 0.0], [0, 0, 0, 0]])


def test_identical_is_perfect() -> None:
    gt = two_tracks(20)
    s = evaluate_arrays(gt, gt)
    assert (s.hota, s.deta, s.assa, s.mota, s.motp, s.idf1) == (100, 100, 100, 100, 100, 100)
    assert (s.idsw, s.fp, s.fn, s.gt_ids, s.pred_ids, s.frames) == (0, 0, 0, 2, 2, 20)
    assert (s.gt_dets, s.pred_dets, s.mt, s.ml) == (40, 40, 2, 0)


def test_empty_prediction() -> None:
    gt = two_tracks(5)
    s = evaluate_arrays(np.empty((0, 10)), gt)
    assert s.mota == 0 and s.hota == 0 and s.idf1 == 0
    assert (s.fn, s.fp, s.pred_ids, s.gt_ids, s.frames) == (10, 0, 0, 2, 5)


def test_empty_prediction_file(tmp_path: Path) -> None:
    pred = tmp_path / "pred.txt"
    pred.write_text("")
    s = evaluate_mot(pred, write(tmp_path / "gt.txt", two_tracks(3)))
    assert (s.mota, s.hota, s.fn) == (0, 0, 6)


def test_swapped_ids_halfway() -> None:
    gt = two_tracks(20)
    pred = gt.copy()
    late = pred[:, 0] > 10
    pred[late, 1] = 3 - pred[late, 1]  # 1 <-> 2 from frame 11
    s = evaluate_arrays(pred, gt)
    assert s.idsw == 2
    assert s.idf1 == pytest.approx(50.0)
    assert s.mota == pytest.approx(100 * (1 - 2 / 40))
    assert s.deta == 100 and s.assa < 100 and s.hota < 100


def test_hand_computed_mota() -> None:
    gt = two_tracks(3)
    pred = rows(
        (1, 10, A),
        (1, 20, B),
        (2, 10, A),
        (2, 30, FAR),  # B missed (FN), FAR is a false positive
        (3, 11, A),
        (3, 20, B),  # gt 1 switches from 10 to 11 (IDSW); gt 2 keeps 20
    )
    s = evaluate_arrays(pred, gt)
    assert (s.fn, s.fp, s.idsw) == (1, 1, 1)
    # MOTA = 1 - (FN + FP + IDSW) / GT = 1 - 3 / 6
    assert s.mota == pytest.approx(50.0)
    assert s.motp == pytest.approx(100.0)
    # IDTP: gt1<->10 for 2 frames, gt2<->20 for 2 frames; IDF1 = 2*4 / (6 gt + 6 pred)
    assert s.idf1 == pytest.approx(100 * 8 / 12)
    assert (s.gt_ids, s.pred_ids) == (2, 4)


def test_iou_threshold_and_negative_mota() -> None:
    gt = rows((1, 1, A))
    half = evaluate_arrays(rows((1, 5, (0, 0, 10, 20))), gt)  # IoU exactly 0.5 -> match
    assert (half.fp, half.fn, half.mota, half.motp) == (0, 0, 100, pytest.approx(50.0))
    third = evaluate_arrays(rows((1, 5, (5, 0, 10, 10))), gt)  # IoU 1/3 -> no match
    assert (third.fp, third.fn) == (1, 1)
    assert third.mota == pytest.approx(-100.0)


def test_predictions_after_last_gt_frame_are_ignored() -> None:
    gt = two_tracks(3)
    pred = np.vstack([gt, rows((4, 1, A), (5, 9, FAR), (400, 2, B))])
    s = evaluate_arrays(pred, gt)
    assert (s.mota, s.idf1, s.hota, s.fp, s.frames, s.pred_dets) == (100, 100, 100, 0, 3, 6)


def test_frames_argument_restricts_both_sides() -> None:
    gt = two_tracks(10)
    pred = gt.copy()
    pred[pred[:, 0] > 5, 1] += 100  # new ids after frame 5
    s = evaluate_arrays(pred, gt, frames=range(1, 6))
    assert (s.frames, s.idsw, s.idf1, s.gt_dets) == (5, 0, 100, 10)
    s2 = evaluate_arrays(pred, gt, frames=range(6, 11))
    assert (s2.frames, s2.idsw, s2.idf1, s2.pred_ids) == (5, 0, 100, 2)
    assert evaluate_arrays(pred, gt).idsw == 2


def test_gt_frames_without_boxes_count_as_frames_and_fp() -> None:
    gt = rows((1, 1, A), (4, 1, A))
    pred = rows((1, 1, A), (2, 1, B), (4, 1, A))
    s = evaluate_arrays(pred, gt)
    assert (s.frames, s.fp, s.fn) == (4, 1, 0)


def test_zero_conf_gt_rows_are_removed() -> None:
    gt = np.vstack([two_tracks(3), rows((2, 7, FAR, 0.0))])
    perfect = evaluate_arrays(two_tracks(3), gt)
    assert (perfect.mota, perfect.fn, perfect.gt_ids, perfect.gt_dets) == (100, 0, 2, 6)
    # a prediction of a zero-marked person is a false positive (TrackEval, MOT15: no distractor preproc)
    with_ignored = evaluate_arrays(np.vstack([two_tracks(3), rows((2, 7, FAR))]), gt)
    assert (with_ignored.fp, with_ignored.fn) == (1, 0)


def test_duplicate_id_in_frame_is_an_error() -> None:
    pred = rows((1, 1, A), (2, 1, A), (2, 1, B))
    with pytest.raises(VigilError, match="id 1 appears more than once in frame 2"):
        evaluate_arrays(pred, two_tracks(3), pred_name="pred.txt")


def test_empty_gt_is_an_error(tmp_path: Path) -> None:
    gt = write(tmp_path / "gt.txt", rows((1, 1, A, 0.0)))
    with pytest.raises(VigilError, match="ground truth has no rows"):
        evaluate_mot(gt, gt)


def test_empty_frame_range_is_an_error() -> None:
    with pytest.raises(VigilError, match="no frames to evaluate"):
        evaluate_arrays(two_tracks(3), two_tracks(3), frames=range(5, 5))


def test_format_scores_table() -> None:
    s = MotScores(
        hota=61.234,
        deta=55.5,
        assa=67.0,
        mota=70.0,
        motp=80.0,
        idf1=75.25,
        idsw=3,
        fp=12,
        fn=34,
        gt_ids=10,
        pred_ids=14,
        frames=400,
    )
    head, row = format_scores(s).splitlines()
    assert head.split() == [
        "HOTA",
        "DetA",
        "AssA",
        "MOTA",
        "MOTP",
        "IDF1",
        "IDSW",
        "FP",
        "FN",
        "Rcll",
        "Prcn",
        "GT",
        "ids",
        "Pred",
        "ids",
        "Frames",
    ]
    assert row.split()[:9] == [
        "61.23",
        "55.50",
        "67.00",
        "70.00",
        "80.00",
        "75.25",
        "3",
        "12",
        "34",
    ]
    assert row.split()[-3:] == ["10", "14", "400"]
    assert len(head) == len(row)


def test_cli_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = write(tmp_path / "gt.txt", two_tracks(4))
    assert main([str(gt), str(gt)]) == 0
    out = capsys.readouterr().out
    assert "HOTA" in out and "100.00" in out
    assert main([str(tmp_path / "missing.txt"), str(gt)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: MOT file not found") and err.count("\n") == 1
    assert main([str(gt), str(gt), "--frames", "1-2"]) == 0
    assert capsys.readouterr().out.split()[-1] == "2"


@pytest.mark.skipif(not REAL_GT.exists(), reason="shared PETS09-S2L1 ground truth not present")
def test_real_gt_against_itself() -> None:
    raw = read_mot(REAL_GT)
    evaluable = raw[raw[:, 6] != 0]
    t0 = time.perf_counter()
    s = evaluate_arrays(evaluable, raw)
    elapsed = time.perf_counter() - t0
    assert (s.hota, s.mota, s.idf1, s.motp) == (100, 100, 100, 100)
    assert (s.frames, s.fp, s.fn, s.idsw) == (400, 0, 0, 0)
    assert s.gt_dets == len(evaluable)
    assert elapsed < 2.0
    # the raw file as prediction: its zero-marked rows are false positives
    s_raw = evaluate_mot(REAL_GT, REAL_GT)
    assert s_raw.fn == 0 and s_raw.fp == len(raw) - len(evaluable)
