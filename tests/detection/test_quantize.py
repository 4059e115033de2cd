"""`vigil models quantize`: an INT8 YOLOX-Nano calibrated on frames of the user's video."""

from pathlib import Path

import numpy as np
import onnx
import pytest

from vigil.detection.onnx_backend import OnnxDetector
from vigil.detection.quantize import quantize_model
from vigil.sources.video import VideoSource, spread_frames


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def test_an_int8_model_from_a_few_frames_lands_in_the_cache_and_finds_people(
    shared_model: Path, shared_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("VIGIL_MODELS", str(shared_model.parent))
    images = spread_frames([str(shared_clip)], 4)
    path = quantize_model("yolox-nano", images, input_size=(320, 320))
    assert path == tmp_path / "cache" / "vigil" / "models" / "yolox_nano-int8.onnx"
    graph = onnx.load(str(path)).graph
    assert sum(n.op_type == "QuantizeLinear" for n in graph.node) > 50
    assert any(t.data_type == onnx.TensorProto.INT8 for t in graph.initializer)  # weights
    assert graph.node[-1].op_type == "Transpose"  # the head's tail stays float

    # `detector.model: yolox_nano-int8.onnx` finds it in the cache, at every letterbox size.
    int8 = OnnxDetector("yolox_nano-int8.onnx", input_size=(320, 320), classes={0})
    fp32 = OnnxDetector(shared_model, input_size=(320, 320), classes={0})
    assert int8.model_path == path and int8.dynamic
    image = next(iter(VideoSource(str(shared_clip)))).image
    [found], [reference] = int8.detect([image]), fp32.detect([image])
    people = reference.xyxy[reference.confidence > 0.5]
    assert len(people) >= 3
    confident = found.xyxy[found.confidence > 0.3]
    assert (box_iou(people, confident).max(axis=1) > 0.7).all()  # every person found again
