"""`vigil models quantize`: an INT8 copy of a detector, calibrated on the user's own video.

ONNX Runtime's static quantisation (QDQ format: int8 weights per channel, uint8 activations)
with activation ranges measured on frames of the user's clips or cameras (the CLI samples them
with `vigil.sources.video.spread_frames`), each letterboxed exactly as `OnnxDetector` letterboxes it for `input_size`. Ranges are the 99.999th
percentile of each tensor's values: plain min/max lets rare outliers coarsen the steps (dev
clip HOTA 4.1 points below FP32 against 2.7). A fixed-shape export is
made dynamic first (as the detector does at load), so the INT8 model runs at every letterbox
size. The head's tail after its last convolutions (sigmoids, the concatenation of box offsets
with probabilities, reshapes) stays float: one uint8 scale over box offsets of tens of pixels
and probabilities in 0-1 would leave the scores a handful of levels.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vigil.detection.dynamic import make_dynamic
from vigil.detection.letterbox import letterbox_into, plan_letterbox
from vigil.detection.models import cache_dir, resolve_model
from vigil.detection.onnx_backend import OnnxDetector

if TYPE_CHECKING:
    import onnx


def int8_name(model: Path) -> str:
    """The INT8 model's file name: ``yolox_nano.onnx`` -> ``yolox_nano-int8.onnx``."""
    return f"{model.stem}-int8.onnx"


def calibration_blobs(detector: OnnxDetector, images: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Network inputs (1, 3, h, w) of BGR `images`, letterboxed as `detector` would."""
    for image in images:
        height, width = image.shape[:2]
        box = plan_letterbox(
            width, height, detector.input_size, rect=detector.dynamic, upscale=detector.upscale
        )
        blob = np.empty((1, 3, box.padded[1], box.padded[0]), np.float32)
        letterbox_into(image, box, blob[0])
        yield blob


def float_tail(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes between the last convolutions and the outputs."""
    producers = {out: node for node in model.graph.node for out in node.output}
    tail: list[str] = []
    pending = [o.name for o in model.graph.output]
    while pending:
        node = producers.get(pending.pop())
        if node is None or node.op_type == "Conv" or node.name in tail:
            continue
        tail.append(node.name)
        pending.extend(node.input)
    return tail


def _opset(model: bytes) -> int:
    import onnx

    return next(
        o.version for o in onnx.load_from_string(model).opset_import if o.domain in ("", "ai.onnx")
    )


def quantize_model(
    model: str | Path,
    images: Iterable[np.ndarray],
    *,
    input_size: tuple[int, int] = (416, 416),
    output: Path | None = None,
) -> Path:
    """Write the INT8 version of `model` calibrated on BGR `images` (`spread_frames` of the
    user's clips) to `output` (default: the model cache, as ``<model>-int8.onnx``) and return
    its path."""
    import onnx
    import onnx.version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source_path = resolve_model(model)
    detector = OnnxDetector(source_path, input_size=input_size, device="cpu")
    raw = source_path.read_bytes()
    float_model = make_dynamic(raw) or raw  # what the detector runs (it checks the patch)
    input_name = onnx.load_from_string(float_model).graph.input[0].name
    blobs = calibration_blobs(detector, images)

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            blob = next(blobs, None)
            return None if blob is None else {input_name: blob}

    output = output or cache_dir() / int8_name(source_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigil-quantize-") as scratch:
        float_path = Path(scratch) / "float.onnx"
        # Per-channel DequantizeLinear (its `axis`) needs opset 13; exports are often older.
        converted = onnx.version_converter.convert_version(
            onnx.load_from_string(float_model), max(13, _opset(float_model))
        )
        onnx.save(converted, str(float_path))
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        partial = output.with_suffix(f".{os.getpid()}.part")
        try:
            # The calibrator prints its progress: keep stdout for the model's path.
            with contextlib.redirect_stdout(sys.stderr):
                quantize_static(
                    str(prepared),
                    str(partial),
                    Reader(),
                    quant_format=QuantFormat.QDQ,
                    calibrate_method=CalibrationMethod.Percentile,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    nodes_to_exclude=float_tail(onnx.load(str(prepared))),
                )
            partial.replace(output)  # atomic: a detector starting now never reads half a file
        finally:
            partial.unlink(missing_ok=True)  # what a failed calibration left
    return output
