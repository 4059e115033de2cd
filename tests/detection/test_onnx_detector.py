import math
from pathlib import Path

import numpy as np
import pytest

from vigil.detection import Detector
from vigil.detection.onnx_backend import OnnxDetector
from vigil.errors import ModelError


class RecordingSession:
    """Wraps an onnxruntime session and records the input shape of every run."""

    def __init__(self, inner):
        self.inner = inner
        self.shapes: list[tuple[int, ...]] = []

    def run(self, names, feeds):
        self.shapes.append(next(iter(feeds.values())).shape)
        return self.inner.run(names, feeds)


def record(detector: OnnxDetector) -> RecordingSession:
    detector._session = RecordingSession(detector._session)
    return detector._session


def yolox_table() -> np.ndarray:
    """Constant YOLOX output for a 416x416 input (raw grid values, see SOURCE.md)."""
    out = np.zeros((1, 3549, 85), np.float32)

    def put(index, cx, cy, w, h, obj, cls, prob):
        out[0, index, :5] = cx, cy, math.log(w), math.log(h), obj
        out[0, index, 5 + cls] = prob

    # stride 8, cell (10, 20): centre (84, 164), 32x64 → (68, 132, 100, 196), score 0.72
    put(20 * 52 + 10, 0.5, 0.5, 4, 8, 0.9, 2, 0.8)
    # cell (11, 20): nearly the same box, same class, score 0.6 → suppressed by NMS
    put(20 * 52 + 11, -0.4, 0.5, 4, 8, 0.75, 2, 0.8)
    # cell (12, 20): exactly the same box but class 3, score 0.63 → kept (class-aware NMS)
    put(20 * 52 + 12, -1.5, 0.5, 4, 8, 0.9, 3, 0.7)
    # cell (0, 0): score 0.9 * 0.2 = 0.18 → below threshold
    put(0, 0.5, 0.5, 1, 1, 0.9, 0, 0.2)
    # stride 32, cell (5, 10): centre (176, 336), 32x32 → (160, 320, 192, 352), score 0.95
    put(52 * 52 + 26 * 26 + 10 * 13 + 5, 0.5, 0.5, 1, 1, 0.95, 0, 1.0)
    return out


def test_is_a_detector(make_constant):
    assert isinstance(OnnxDetector(make_constant(yolox_table())), Detector)


def test_fixed_yolox_decode_unscale_nms_and_clip(make_constant):
    detector = OnnxDetector(make_constant(yolox_table()))
    assert detector.decoder.name == "yolox"
    # A constant output does not follow the batch, so the patch is rejected: fixed 416x416.
    assert not detector.dynamic and not detector.batch_dynamic
    runs = record(detector)
    square = np.zeros((832, 832, 3), np.uint8)  # scale 0.5, no padding
    wide = np.zeros((416, 832, 3), np.uint8)  # scale 0.5, bottom half of the input is padding
    first, second = detector.detect([square, wide])
    assert runs.shapes == [(1, 3, 416, 416)] * 2  # fixed models run one image at a time

    np.testing.assert_allclose(
        first.xyxy, [[320, 640, 384, 704], [136, 264, 200, 392], [136, 264, 200, 392]], atol=1e-3
    )
    np.testing.assert_allclose(first.confidence, [0.95, 0.72, 0.63], atol=1e-6)
    assert first.class_id.tolist() == [0, 2, 3]
    assert first.tracker_id.tolist() == [-1, -1, -1]
    # In the wide image the stride-32 box lies in the padding: clipped to nothing and dropped.
    np.testing.assert_allclose(second.xyxy, [[136, 264, 200, 392]] * 2, atol=1e-3)
    assert second.class_id.tolist() == [2, 3]


def test_class_filter_and_threshold(make_constant):
    path = make_constant(yolox_table())
    only_people = OnnxDetector(path, classes={0}).detect([np.zeros((416, 416, 3), np.uint8)])[0]
    np.testing.assert_allclose(only_people.xyxy, [[160, 320, 192, 352]], atol=1e-3)
    only_class_3 = OnnxDetector(path, classes={3}).detect([np.zeros((416, 416, 3), np.uint8)])[0]
    assert only_class_3.class_id.tolist() == [3]
    strict = OnnxDetector(path, conf_threshold=0.7).detect([np.zeros((416, 416, 3), np.uint8)])[0]
    np.testing.assert_allclose(strict.confidence, [0.95, 0.72], atol=1e-6)


def test_dynamic_model_groups_images_by_padded_shape(make_mini_yolox):
    detector = OnnxDetector(make_mini_yolox(), conf_threshold=0.5)
    assert detector.dynamic and detector.batch_dynamic and detector.input_size == (416, 416)
    runs = record(detector)

    frame_a = np.zeros((640, 832, 3), np.uint8)
    frame_a[64:128, 128:192] = (255, 0, 0)  # blue → class 0
    crop = np.zeros((64, 96, 3), np.uint8)
    crop[0:32, 32:64] = (0, 255, 0)  # green → class 1, runs unscaled at 96x64
    frame_b = np.zeros((640, 832, 3), np.uint8)
    frame_b[448:512, 640:704] = (0, 255, 0)
    tiny = np.zeros((40, 50, 3), np.uint8)
    empty = np.zeros((0, 10, 3), np.uint8)

    results = detector.detect([frame_a, crop, frame_b, tiny, empty])
    assert runs.shapes == [(2, 3, 320, 416), (1, 3, 64, 96), (1, 3, 64, 64)]
    a, c, b, t, e = results
    np.testing.assert_allclose(a.xyxy, [[128, 64, 192, 128]], atol=1e-3)
    assert a.class_id.tolist() == [0]
    np.testing.assert_allclose(a.confidence, [1.0], atol=1e-5)
    np.testing.assert_allclose(c.xyxy, [[32, 0, 64, 32]], atol=1e-3)  # crop coordinates
    assert c.class_id.tolist() == [1]
    np.testing.assert_allclose(b.xyxy, [[640, 448, 704, 512]], atol=1e-3)
    assert b.class_id.tolist() == [1]
    assert len(t) == 0 and len(e) == 0


def test_dynamic_model_honours_input_size(make_mini_yolox):
    detector = OnnxDetector(make_mini_yolox(), input_size=(832, 640), conf_threshold=0.5)
    runs = record(detector)
    frame = np.zeros((640, 832, 3), np.uint8)
    frame[64:128, 128:192] = (255, 0, 0)  # two cells wide at full resolution
    (dets,) = detector.detect([frame])
    assert runs.shapes == [(1, 3, 640, 832)]
    boxes = sorted(dets.xyxy.tolist())  # four equal scores: NMS order among ties is arbitrary
    assert boxes == [
        [128, 64, 160, 96],
        [128, 96, 160, 128],
        [160, 64, 192, 96],
        [160, 96, 192, 128],
    ]
    with pytest.raises(ValueError, match="multiples of 32"):
        OnnxDetector(make_mini_yolox(), input_size=(400, 416))


def yolov8_table() -> np.ndarray:
    """Constant YOLOv8 output (1, 84, 126) for a 96x64 input: cx, cy, w, h in input pixels."""
    rows = np.zeros((126, 84), np.float32)
    rows[7, :4], rows[7, 4 + 3] = (40, 20, 20, 10), 0.9
    rows[8, :4], rows[8, 4 + 3] = (41, 20, 20, 10), 0.8  # suppressed by row 7
    rows[9, :4], rows[9, 4 + 7] = (80, 50, 40, 30), 0.5  # runs off the image: clipped
    return rows.T[None]


@pytest.mark.parametrize("transposed", [False, True])
def test_yolov8_layouts(make_constant, transposed):
    table = yolov8_table().transpose(0, 2, 1) if transposed else yolov8_table()
    detector = OnnxDetector(make_constant(table, (1, 3, 64, 96)))
    assert detector.decoder.name == "yolov8" and detector.decoder.num_classes == 80
    assert detector.input_size == (96, 64)  # a fixed model's own size wins over input_size
    (dets,) = detector.detect([np.zeros((128, 192, 3), np.uint8)])
    np.testing.assert_allclose(dets.xyxy, [[60, 30, 100, 50], [120, 70, 192, 128]], atol=1e-4)
    np.testing.assert_allclose(dets.confidence, [0.9, 0.5])
    assert dets.class_id.tolist() == [3, 7]


def test_rejects_bad_images(make_constant):
    detector = OnnxDetector(make_constant(yolox_table()))
    with pytest.raises(ValueError, match=r"image 1: expected BGR uint8"):
        detector.detect([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])


def one_line_model_error(path, **kwargs) -> str:
    with pytest.raises(ModelError) as info:
        OnnxDetector(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_missing_file(tmp_path: Path):
    path = tmp_path / "nowhere" / "yolox_nano.onnx"
    assert one_line_model_error(path) == (
        f"model file not found: {path} "
        "(put yolox_nano.onnx in $VIGIL_MODELS or run `vigil models pull yolox-nano`)"
    )


def test_not_an_onnx_file(tmp_path: Path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x00definitely not a protobuf\xff" * 10)
    assert one_line_model_error(path).startswith(f"{path}: not a loadable ONNX model (")


def test_wrong_output_shape(make_constant):
    path = make_constant(np.zeros((1, 100, 85), np.float32))
    message = one_line_model_error(path)
    assert message.startswith(
        f"{path}: output shape [1, 100, 85] for a 416x416 input does not match"
    )
    assert "expected [N, 3549, 5+classes] (YOLOX)" in message


def test_wrong_input_channels(make_constant):
    path = make_constant(yolox_table(), (1, 1, 416, 416))
    assert one_line_model_error(path) == (
        f"{path}: input 'images' has shape [1, 1, 416, 416], expected [N, 3, H, W] (BGR image)"
    )


def test_decoder_mismatch_and_bad_classes(make_constant):
    path = make_constant(yolov8_table(), (1, 3, 64, 96))
    assert "(YOLOX)" in one_line_model_error(path, decoder="yolox")
    assert one_line_model_error(path, classes={0, 80, 91}) == (
        f"{path}: classes [80, 91] out of range for a 80-class model (0-79)"
    )


def test_reshape_false_keeps_the_fixed_export(make_mini_yolox):
    detector = OnnxDetector(make_mini_yolox(), conf_threshold=0.5, reshape=False)
    assert not detector.dynamic and not detector.batch_dynamic
    runs = record(detector)
    frame = np.zeros((640, 832, 3), np.uint8)
    frame[64:128, 128:192] = (255, 0, 0)
    first, second = detector.detect([frame, frame])
    assert runs.shapes == [(1, 3, 416, 416)] * 2
    np.testing.assert_allclose(first.xyxy, [[128, 64, 192, 128]], atol=1e-3)
    np.testing.assert_allclose(second.xyxy, first.xyxy)
