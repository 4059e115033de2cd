"""Make a fixed-shape YOLO ONNX export dynamic in batch and height/width.

Exports such as the official YOLOX ones fix the input at [1, 3, 416, 416], yet the only
shape-specific constants are Reshape targets like [1, 85, -1]: the trailing -1 already absorbs
the spatial size and only the leading batch 1 is hard-coded. Rewriting that 1 to 0 (ONNX
"copy this dim from the input") and declaring the input/output dims symbolic lets the same
weights run on any batch and any multiple-of-32 size, e.g. 416×320 for 4:3 video, 25% cheaper.
The caller must still check the result (`OnnxDetector` runs the patched and original models
side by side once), because other ops may bake in shapes this analysis cannot see.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

_log = logging.getLogger(__name__)


def _constants(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    """Tensors with a value known at load time: initializers and Constant-node outputs."""
    found = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    found[node.output[0]] = attr.t
    return found


def make_dynamic(model_bytes: bytes) -> bytes | None:
    """The patched model, or None when it is already dynamic or the pattern does not apply.

    Requires the `onnx` package; without it the model is left as it is (None).
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        _log.warning(
            "onnx is not installed: fixed-shape models run at their fixed size (pip install onnx)"
        )
        return None
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    constants = _constants(graph)
    inputs = [i for i in graph.input if i.name not in constants]
    if len(inputs) != 1:
        return None
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != 4 or not any(dims[k].HasField("dim_value") for k in (0, 2, 3)):
        return None

    # Every consumer of a Reshape target must be a Reshape, or rewriting it would change others.
    consumers: dict[str, set[str]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, set()).add(node.op_type)
    patches: dict[str, np.ndarray] = {}
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[1] not in constants:
            continue  # a runtime-computed target follows the input shape by itself
        if any(a.name == "allowzero" and a.i == 1 for a in node.attribute):
            return None
        target = numpy_helper.to_array(constants[node.input[1]])
        if (
            target.ndim != 1
            or target.size < 2
            or target[0] not in (0, 1)
            or np.count_nonzero(target[1:] == -1) != 1
            or consumers[node.input[1]] != {"Reshape"}
        ):
            return None
        patched = target.copy()
        patched[0] = 0
        patches[node.input[1]] = patched

    for name, value in patches.items():
        constants[name].CopyFrom(numpy_helper.from_array(value, name))
    for k, label in ((0, "batch"), (2, "height"), (3, "width")):
        dims[k].ClearField("dim_value")
        dims[k].dim_param = label
    for output in graph.output:
        for k, dim in enumerate(output.type.tensor_type.shape.dim):
            dim.ClearField("dim_value")
            dim.dim_param = f"{output.name}_{k}"
    del graph.value_info[:]  # recorded intermediate shapes are for the old fixed size
    return model.SerializeToString()
