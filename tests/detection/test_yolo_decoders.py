import math

import numpy as np
import pytest

from vigil.detection.decoders import (
    Yolov8Decoder,
    YoloxDecoder,
    anchor_count,
    choose_decoder,
)
from vigil.detection.nms import nms


def test_anchor_count():
    assert anchor_count(416, 416) == 3549
    assert anchor_count(640, 640) == 8400
    assert anchor_count(320, 416) == 40 * 52 + 20 * 26 + 10 * 13


def test_yolox_grid_order_matches_yolox():
    cells, strides = YoloxDecoder(80).grid(64, 96)
    assert len(cells) == anchor_count(64, 96) == 126
    # Row-major per level, levels in stride order 8, 16, 32.
    assert cells[15].tolist() == [3, 1] and strides[15, 0] == 8
    assert cells[96].tolist() == [0, 0] and strides[96, 0] == 16
    assert cells[125].tolist() == [2, 1] and strides[125, 0] == 32


def yolox_row(cx, cy, w, h, obj, probs, nc=80):
    row = np.zeros(5 + nc, np.float32)
    row[:5] = cx, cy, math.log(w), math.log(h), obj
    for c, p in probs.items():
        row[5 + c] = p
    return row


def test_yolox_decode():
    out = np.zeros((126, 85), np.float32)
    out[15] = yolox_row(0.5, 0.25, 2, 4, 0.9, {2: 0.8, 3: 0.5})  # stride 8, cell (3, 1)
    out[125] = yolox_row(0, 0, 1, 1, 0.9, {0: 0.2})  # score 0.18: below threshold
    out[100] = yolox_row(0, 0, 1, 1, 0.2, {0: 1.0})  # objectness alone below threshold
    xyxy, scores, class_ids = YoloxDecoder(80).decode(out, 64, 96, 0.25, None)
    # centre ((3 + 0.5) * 8, (1 + 0.25) * 8) = (28, 10), size (2 * 8, 4 * 8) = (16, 32)
    np.testing.assert_allclose(xyxy, [[20, -6, 36, 26]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.72], atol=1e-6)
    assert class_ids.tolist() == [2] and class_ids.dtype == np.int64

    xyxy, scores, class_ids = YoloxDecoder(80).decode(out, 64, 96, 0.25, np.array([0, 3]))
    assert class_ids.tolist() == [3]  # best among the allowed classes
    np.testing.assert_allclose(scores, [0.45], atol=1e-6)
    assert len(YoloxDecoder(80).decode(out, 64, 96, 0.25, np.array([5]))[0]) == 0


@pytest.mark.parametrize("transposed", [False, True])
def test_yolov8_decode(transposed):
    rows = np.zeros((126, 84), np.float32)
    rows[7, :4] = 40, 20, 20, 10
    rows[7, 4 + 3] = 0.9
    rows[7, 4 + 1] = 0.3
    rows[9, :4] = 10, 10, 4, 4
    rows[9, 4 + 0] = 0.1
    out = rows if transposed else np.ascontiguousarray(rows.T)
    decoder = Yolov8Decoder(80, transposed=transposed)
    xyxy, scores, class_ids = decoder.decode(out, 64, 96, 0.25, None)
    np.testing.assert_allclose(xyxy, [[30, 15, 50, 25]])
    np.testing.assert_allclose(scores, [0.9])
    assert class_ids.tolist() == [3]
    _, scores, class_ids = decoder.decode(out, 64, 96, 0.25, np.array([0, 1]))
    assert class_ids.tolist() == [1]
    np.testing.assert_allclose(scores, [0.3])


@pytest.mark.parametrize(
    ("shape", "kind", "name", "nc", "transposed"),
    [
        ((1, 3549, 85), "auto", "yolox", 80, None),
        ((1, 84, 3549), "auto", "yolov8", 80, False),
        ((1, 3549, 84), "auto", "yolov8", 80, True),
        ((2, 6, 3549), "auto", "yolov8", 2, False),
        ((1, 3549, 10), "yolox", "yolox", 5, None),
        ((1, 3549, 10), "yolov8", "yolov8", 6, True),
    ],
)
def test_choose_decoder(shape, kind, name, nc, transposed):
    decoder = choose_decoder(shape, 416, 416, kind)
    assert decoder.name == name and decoder.num_classes == nc
    if transposed is not None:
        assert decoder.transposed is transposed


@pytest.mark.parametrize(
    ("shape", "kind", "message"),
    [
        (
            (1, 100, 85),
            "auto",
            "output shape [1, 100, 85] for a 416x416 input does not match; expected [N, 3549, 5+classes] (YOLOX) or",
        ),
        ((1, 3549, 10), "auto", "could be YOLOX or YOLOv8; pass decoder='yolox' or 'yolov8'"),
        ((1, 84, 3549), "yolox", "expected [N, 3549, 5+classes] (YOLOX)"),
        ((1, 3549, 85, 1), "auto", "output shape [1, 3549, 85, 1]"),
    ],
)
def test_choose_decoder_rejects(shape, kind, message):
    with pytest.raises(ValueError) as info:
        choose_decoder(shape, 416, 416, kind)
    assert message in str(info.value)


def test_nms_is_class_aware():
    xyxy = np.array(
        [[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60], [5, 0, 15, 10]],
        np.float32,
    )
    scores = np.array([0.8, 0.9, 0.7, 0.5, 0.6], np.float32)
    class_ids = np.array([0, 0, 1, 0, 0])
    # box 0 overlaps the better box 1 (IoU 0.82) → dropped; box 2 is another class; box 4 has
    # IoU 6/14 = 0.43 with box 1 → kept at 0.45.
    assert nms(xyxy, scores, class_ids, 0.45).tolist() == [1, 2, 4, 3]
    assert nms(xyxy, scores, class_ids, 0.4).tolist() == [1, 2, 3]
    assert nms(xyxy[:0], scores[:0], class_ids[:0], 0.45).dtype == np.int64
