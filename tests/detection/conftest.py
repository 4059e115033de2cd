"""Tiny ONNX models built in memory, shaped like real YOLO exports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from vigil.detection.decoders import STRIDES, anchor_count

OPSET = 13


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # old enough for any onnxruntime we support
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def constant_model(
    path: Path, output: np.ndarray, input_shape: tuple[int, ...] = (1, 3, 416, 416)
) -> Path:
    """A model whose output is `output` whatever the input (the input is multiplied by 0)."""
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["table", "nothing"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, list(output.shape))],
        [
            numpy_helper.from_array(output.astype(np.float32), "table"),
            numpy_helper.from_array(np.array(0, np.float32), "zero"),
        ],
    )
    return _save(graph, path)


def mini_yolox(path: Path, size: tuple[int, int] = (416, 416), reshape_batch: int = 1) -> Path:
    """A YOLOX-shaped head on average pooling, fixed at `size` (w, h) like the official export.

    Only the stride-32 level fires: each 32×32 cell emits a box exactly covering the cell, with
    objectness 1, class 0 probability = mean blue / 255 and class 1 = mean green / 255. So a pure
    blue (or green) cell-aligned 32×32 square is detected as class 0 (or 1) with score 1, black
    is score 0 and the 114 letterbox padding 0.447. Each level ends in Reshape([1, 85, -1]).
    """
    width, height = size
    nodes, inits, levels = [], [], []
    for s in STRIDES:
        weight = np.zeros((85, 3, 1, 1), np.float32)
        bias = np.zeros(85, np.float32)
        if s == 32:
            bias[:2] = 0.5  # box centre in the middle of the cell; w = h = exp(0) * 32
            bias[4] = 1.0
            weight[5, 0] = weight[6, 1] = 1 / 255
        inits += [
            numpy_helper.from_array(weight, f"w{s}"),
            numpy_helper.from_array(bias, f"b{s}"),
            numpy_helper.from_array(np.array([reshape_batch, 85, -1], np.int64), f"shape{s}"),
        ]
        nodes += [
            helper.make_node(
                "AveragePool", ["images"], [f"pool{s}"], kernel_shape=[s, s], strides=[s, s]
            ),
            helper.make_node("Conv", [f"pool{s}", f"w{s}", f"b{s}"], [f"head{s}"]),
            helper.make_node("Reshape", [f"head{s}", f"shape{s}"], [f"flat{s}"]),
        ]
        levels.append(f"flat{s}")
    nodes += [
        helper.make_node("Concat", levels, ["cat"], axis=2),
        helper.make_node("Transpose", ["cat"], ["output"], perm=[0, 2, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "mini_yolox",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        [
            helper.make_tensor_value_info(
                "output", TensorProto.FLOAT, [1, anchor_count(height, width), 85]
            )
        ],
        inits,
    )
    return _save(graph, path)


@pytest.fixture
def make_constant(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(output: np.ndarray, input_shape: tuple[int, ...] = (1, 3, 416, 416)) -> Path:
        return constant_model(tmp_path / f"constant{next(counter)}.onnx", output, input_shape)

    return make


@pytest.fixture
def make_mini_yolox(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(size: tuple[int, int] = (416, 416), reshape_batch: int = 1) -> Path:
        return mini_yolox(tmp_path / f"mini_yolox{next(counter)}.onnx", size, reshape_batch)

    return make
