import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from vigil.detection.decoders import anchor_count
from vigil.detection.dynamic import make_dynamic


def run(model: bytes, blob: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, {"images": blob})[0]


def test_patch_makes_fixed_yolox_export_dynamic(make_mini_yolox):
    original = make_mini_yolox().read_bytes()
    patched = make_dynamic(original)
    assert patched is not None

    model = onnx.load_from_string(patched)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    assert all(d.dim_param for d in model.graph.output[0].type.tensor_type.shape.dim)
    targets = [
        numpy_helper.to_array(t).tolist()
        for t in model.graph.initializer
        if t.name.startswith("shape")
    ]
    assert targets == [[0, 85, -1]] * 3

    blob = np.random.default_rng(1).integers(0, 256, (1, 3, 416, 416)).astype(np.float32)
    np.testing.assert_array_equal(run(patched, blob), run(original, blob))
    out = run(patched, np.zeros((3, 3, 320, 416), np.float32))
    assert out.shape == (3, anchor_count(320, 416), 85)


def test_patch_refuses_what_it_cannot_prove(make_mini_yolox, make_constant):
    # A Reshape target that hard-codes the batch as 2 is not the [1, C, -1] pattern.
    assert make_dynamic(make_mini_yolox(reshape_batch=2).read_bytes()) is None
    dynamic = make_dynamic(make_mini_yolox().read_bytes())
    assert make_dynamic(dynamic) is None  # already dynamic
    # No Reshape at all: the patch applies, and it is the caller's probe that must reject it.
    assert make_dynamic(make_constant(np.zeros((1, 3549, 85))).read_bytes()) is not None
