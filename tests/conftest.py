"""Fixtures shared by the whole suite: the ../shared checkout, a synthetic clip, tiny detectors.

Heavy imports (onnx, av) happen inside the builders, so test packages that do not use these
fixtures pay nothing for them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from clips import write_video
from vigil.config.loader import load_config_text
from vigil.config.site import SiteConfig

if TYPE_CHECKING:
    import onnx

REPO = Path(__file__).resolve().parents[1]
#: The data checkout beside the repository (real model, sample clip, evaluation ground truth).
#: `VIGIL_SHARED_DIR` overrides it, as it does for scripts/lib.sh.
SHARED = Path(os.environ.get("VIGIL_SHARED_DIR") or REPO.parent / "shared")


# --------------------------------------------------------------------------- ../shared


def _shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{path} absent (needs the ../shared checkout)")
    return path


@pytest.fixture(scope="session")
def shared_model() -> Path:
    """The real YOLOX-Nano (`../shared/models/yolox_nano.onnx`); skips the test when absent."""
    return _shared_file("models/yolox_nano.onnx")


@pytest.fixture(scope="session")
def shared_clip() -> Path:
    """OpenCV's vtest.avi (PETS09-S2L1 view 1, 768x576); skips the test when absent."""
    return _shared_file("data/vtest.avi")


@pytest.fixture(scope="session")
def shared_gt() -> Path:
    """MOTChallenge ground truth of vtest.avi frames 1-400; skips the test when absent."""
    return _shared_file("eval/PETS09-S2L1-dev/gt.txt")


# --------------------------------------------------------------------------- tiny detector

#: Side of the squares the blob detector finds, in network pixels.
BLOB = 80
#: BGR colours the blob detector reads as COCO person (class 0) and car (class 2).
PERSON_BGR = (255, 0, 0)
CAR_BGR = (0, 255, 0)


def save_onnx(graph: onnx.GraphProto, path: Path) -> Path:
    """Check `graph` as an opset-13 model and write it to `path`."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # old enough for any onnxruntime we support
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def yolox_model(
    path: Path,
    name: str,
    size: tuple[int, int],
    nodes: list[onnx.NodeProto],
    inits: list[onnx.TensorProto],
    reshape_batch: int = 1,
) -> Path:
    """Save a YOLOX-shaped model whose `nodes` compute `head8`, `head16` and `head32`
    ([1, 85, h/s, w/s]) from `images`, with the interface of the official export: fixed input
    `images` [1, 3, h, w] for `size` (w, h), each head reshaped to [reshape_batch, 85, -1]
    (target `shape<s>`), concatenated and transposed to `output` [1, anchors, 85]."""
    from onnx import TensorProto, helper, numpy_helper

    from vigil.detection.decoders import STRIDES, anchor_count

    width, height = size
    nodes, inits = list(nodes), list(inits)
    for s in STRIDES:
        inits.append(
            numpy_helper.from_array(np.array([reshape_batch, 85, -1], np.int64), f"shape{s}")
        )
        nodes.append(helper.make_node("Reshape", [f"head{s}", f"shape{s}"], [f"flat{s}"]))
    nodes += [
        helper.make_node("Concat", [f"flat{s}" for s in STRIDES], ["cat"], axis=2),
        helper.make_node("Transpose", ["cat"], ["output"], perm=[0, 2, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        [
            helper.make_tensor_value_info(
                "output", TensorProto.FLOAT, [1, anchor_count(height, width), 85]
            )
        ],
        inits,
    )
    return save_onnx(graph, path)


def blob_yolox(path: Path, size: tuple[int, int] = (416, 416)) -> Path:
    """A YOLOX-shaped ONNX model that really finds coloured squares, so tracks and line
    crossings can be tested end to end without the real model.

    Same interface as the official export (`yolox_model`), so Vigil patches it to dynamic
    shapes. Only stride 8 fires: cell i predicts an 80x80 box centred at
    8 * (i + 1) with objectness 1 and person score = f**2, f being the fraction of that box
    that is pure blue (B - G - R > 0; car: the same for green). Grey (background, the 114
    letterbox padding) scores 0. So an 80x80 blue square scores 1 where a box fits it and at
    least 0.81 at its best box wherever it is; every box within 8 px of the best is removed by
    NMS (IoU > 0.65), and every box NMS keeps besides scores < 0.66, under the tracker's
    new-track threshold (0.7): one track per square.
    """
    from onnx import helper, numpy_helper

    s0 = 8
    k = BLOB // s0  # window in cells
    nodes = [
        # mean colour of each 8x8 cell, then of the k x k cells around (zero outside)
        helper.make_node(
            "AveragePool", ["images"], ["cells"], kernel_shape=[s0, s0], strides=[s0, s0]
        ),
        helper.make_node(
            "AveragePool",
            ["cells"],
            ["window"],
            kernel_shape=[k, k],
            strides=[1, 1],
            pads=[k // 2 - 1, k // 2 - 1, k // 2, k // 2],
            count_include_pad=1,
        ),
        helper.make_node("Conv", ["window", "w_cls", "zero80"], ["purity"]),
        helper.make_node("Relu", ["purity"], ["f"]),
        helper.make_node("Mul", ["f", "f"], ["cls"]),
        helper.make_node("Conv", ["window", "zero_w5", "b_box"], ["box"]),
        helper.make_node("Concat", ["box", "cls"], ["head8"], axis=1),
    ]
    w_cls = np.zeros((80, 3, 1, 1), np.float32)
    w_cls[0, :, 0, 0] = np.array([1, -1, -1]) / 255  # person: blue
    w_cls[2, :, 0, 0] = np.array([-1, 1, -1]) / 255  # car: green
    b_box = np.array([1.0, 1.0, math.log(BLOB / s0), math.log(BLOB / s0), 1.0], np.float32)
    inits = [
        numpy_helper.from_array(w_cls, "w_cls"),
        numpy_helper.from_array(np.zeros(80, np.float32), "zero80"),
        numpy_helper.from_array(np.zeros((5, 3, 1, 1), np.float32), "zero_w5"),
        numpy_helper.from_array(b_box, "b_box"),
        numpy_helper.from_array(np.zeros((85, 3, 1, 1), np.float32), "zero_w85"),
        numpy_helper.from_array(np.zeros(85, np.float32), "zero85"),
    ]
    for s in (16, 32):  # silent levels: all zeros
        nodes += [
            helper.make_node(
                "AveragePool", ["images"], [f"pool{s}"], kernel_shape=[s, s], strides=[s, s]
            ),
            helper.make_node("Conv", [f"pool{s}", "zero_w85", "zero85"], [f"head{s}"]),
        ]
    return yolox_model(path, "blob_yolox", size, nodes, inits)


def mini_yolox(path: Path, size: tuple[int, int] = (416, 416), reshape_batch: int = 1) -> Path:
    """A YOLOX-shaped head on average pooling, fixed at `size` (w, h) like the official export.

    Only the stride-32 level fires: each 32×32 cell emits a box exactly covering the cell, with
    objectness 1, class 0 probability = mean blue / 255 and class 1 = mean green / 255. So a pure
    blue (or green) cell-aligned 32×32 square is detected as class 0 (or 1) with score 1, black
    is score 0 and the 114 letterbox padding 0.447. Each level ends in Reshape([1, 85, -1]).
    """
    from onnx import helper, numpy_helper

    from vigil.detection.decoders import STRIDES

    nodes, inits = [], []
    for s in STRIDES:
        weight = np.zeros((85, 3, 1, 1), np.float32)
        bias = np.zeros(85, np.float32)
        if s == 32:
            bias[:2] = 0.5  # box centre in the middle of the cell; w = h = exp(0) * 32
            bias[4] = 1.0
            weight[5, 0] = weight[6, 1] = 1 / 255
        inits += [numpy_helper.from_array(weight, f"w{s}"), numpy_helper.from_array(bias, f"b{s}")]
        nodes += [
            helper.make_node(
                "AveragePool", ["images"], [f"pool{s}"], kernel_shape=[s, s], strides=[s, s]
            ),
            helper.make_node("Conv", [f"pool{s}", f"w{s}", f"b{s}"], [f"head{s}"]),
        ]
    return yolox_model(path, "mini_yolox", size, nodes, inits, reshape_batch)


def constant_model(
    path: Path, output: np.ndarray, input_shape: tuple[int, ...] = (1, 3, 416, 416)
) -> Path:
    """A model whose output is `output` whatever the input (the input is multiplied by 0)."""
    from onnx import TensorProto, helper, numpy_helper

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
    return save_onnx(graph, path)


@pytest.fixture
def make_constant(tmp_path: Path) -> Callable[..., Path]:
    """`constant_model` saved under tmp_path, one new file per call."""
    counter = iter(range(1000))

    def make(output: np.ndarray, input_shape: tuple[int, ...] = (1, 3, 416, 416)) -> Path:
        return constant_model(tmp_path / f"constant{next(counter)}.onnx", output, input_shape)

    return make


@pytest.fixture
def make_mini_yolox(tmp_path: Path) -> Callable[..., Path]:
    """`mini_yolox` saved under tmp_path, one new file per call."""
    counter = iter(range(1000))

    def make(size: tuple[int, int] = (416, 416), reshape_batch: int = 1) -> Path:
        return mini_yolox(tmp_path / f"mini_yolox{next(counter)}.onnx", size, reshape_batch)

    return make


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory usable as $VIGIL_MODELS: `blob_yolox` saved as `yolox_nano.onnx`, so the
    default configuration (model `yolox-nano`) runs on it."""
    directory = tmp_path_factory.mktemp("models")
    blob_yolox(directory / "yolox_nano.onnx")
    return directory


# --------------------------------------------------------------------------- synthetic video


@dataclass(frozen=True)
class WalkerClip:
    """A synthetic clip the tiny detector understands, with its ground truth.

    Two "persons" (blue `BLOB` x `BLOB` squares) on a light grey ground cross the vertical
    middle of the frame in opposite directions, `step` pixels per frame; a "car" (green)
    stands still between them. 416x320: it runs at its own size with `detector.input_size:
    [416, 320]` (or larger), where `blob_yolox` sees its squares at 80 px.

    Walker A: rows 16-96, left edge 16 -> 328 (anchor x 56 -> 368), moving right.
    Walker B: rows 216-296, left edge 320 -> 8 (anchor x 360 -> 48), moving left.
    Car: rows 120-200, columns 320-400.
    """

    path: Path
    width: int = 416
    height: int = 320
    frames: int = 40
    fps: int = 10
    step: int = 8
    size: int = BLOB

    def truth(self, frame: int) -> dict[str, tuple[int, int, int, int]]:
        """The walkers' boxes (x, y, w, h) on 1-based `frame` (MOTChallenge numbering)."""
        i = frame - 1
        return {
            "A": (16 + self.step * i, 16, self.size, self.size),
            "B": (320 - self.step * i, 216, self.size, self.size),
        }

    def site(
        self, data: Path, detect_fps: float = 8, record: str = "off", extra: str = ""
    ) -> SiteConfig:
        """A site with one camera `door` playing the clip in a loop like a camera (`extra`:
        more of the camera's keys, one flow mapping entry each, e.g. ``"privacy: {...}"``)."""
        lines = "".join(f"\n    {line}" for line in extra.splitlines() if line.strip())
        text = (
            f"cameras:\n  - id: door\n    url: {self.path}\n    loop: true\n"
            f"    detect_fps: {detect_fps:g}\n    record: {{mode: '{record}'}}{lines}\n"
            f"detector: {{input_size: [{self.width}, {self.height}]}}\n"
            f"storage: {{directory: {data}}}\n"
        )
        return load_config_text(text, "site.yaml", model=SiteConfig)

    def images(self) -> list[np.ndarray]:
        """The BGR frames, as encoded into `path`."""
        out = []
        for frame in range(1, self.frames + 1):
            img = np.full((self.height, self.width, 3), 200, np.uint8)
            img[120:200, 320:400] = CAR_BGR
            for x, y, w, h in self.truth(frame).values():
                img[y : y + h, x : x + w] = PERSON_BGR
            out.append(img)
        return out


@pytest.fixture(scope="session")
def walker_clip(tmp_path_factory: pytest.TempPathFactory) -> WalkerClip:
    """The `WalkerClip`, encoded once per session as a lossless H.264 MP4."""
    clip = WalkerClip(tmp_path_factory.mktemp("clips") / "walkers.mp4")
    write_video(clip.path, clip.images(), clip.fps)
    return clip


@pytest.fixture(scope="session")
def synthetic_clip(walker_clip: WalkerClip) -> Path:
    """Path of a small valid video (the `walker_clip`)."""
    return walker_clip.path


pytest_plugins = ["mqtt_broker"]
pytest_plugins = [*pytest_plugins, "rtsp.fixtures"]  # the RTSP test server (tests/rtsp/)
pytest_plugins = [
    *pytest_plugins,
    "postgres_server",
]  # a real PostgreSQL (tests/postgres_server.py)
