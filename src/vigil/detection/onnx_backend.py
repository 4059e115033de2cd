"""`OnnxDetector`: YOLO-family ONNX models on onnxruntime (CPU, or the execution provider that
`detector.device` picks: see `vigil.detection.providers`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from vigil.detection.decoders import Decoder, DecoderName, anchor_count, choose_decoder
from vigil.detection.detections import Detections
from vigil.detection.dynamic import make_dynamic
from vigil.detection.letterbox import STRIDE, Letterbox, letterbox_into, plan_letterbox
from vigil.detection.models import cache_dir, resolve_model
from vigil.detection.nms import nms
from vigil.detection.providers import Device, Providers, start_session
from vigil.errors import ModelError

# Patched models are checked on this batch and (h, w): a second, non-square size proves that
# batch and both spatial dims really follow the input.
_CHECK_BATCH, _CHECK_HW = 2, (64, 96)


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


_CPU: Providers = ["CPUExecutionProvider"]


def _session(model: bytes, threads: int, providers: Providers = _CPU) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning worker threads would steal the cores that decoding and other in-flight
    # inferences need; on a small CPU that costs more than the wake-up latency it saves.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=providers)


def _run(session: ort.InferenceSession, blob: np.ndarray) -> np.ndarray:
    inputs = session.get_inputs()
    return session.run([session.get_outputs()[0].name], {inputs[0].name: blob})[0]


def _random_blob(batch: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (batch, 3, height, width)).astype(np.float32)


def _patched_session(
    original: ort.InferenceSession, model: bytes, threads: int, providers: Providers
) -> tuple[ort.InferenceSession, bytes] | None:
    """A dynamic-shape session for a fixed-shape model and the patched model, or None when
    that is not safe.

    The patched model must reproduce the original's output at the original size and run at a
    different batch and size with the anchor count following the input.
    """
    patched = make_dynamic(model)
    if patched is None:
        return None
    _, _, height, width = original.get_inputs()[0].shape
    height = height if isinstance(height, int) else _CHECK_HW[0]
    width = width if isinstance(width, int) else _CHECK_HW[1]
    try:
        session = _session(patched, threads, providers)
        blob = _random_blob(1, height, width)
        if not np.allclose(_run(session, blob), _run(original, blob), rtol=1e-4, atol=1e-3):
            return None
        shape = _run(session, _random_blob(_CHECK_BATCH, *_CHECK_HW)).shape
    except Exception:  # any failure means the patch does not hold; keep the original
        return None
    if shape[0] != _CHECK_BATCH or anchor_count(*_CHECK_HW) not in shape[1:]:
        return None
    return session, patched


def _patched_cache_path(model: bytes) -> Path:
    """Where the checked dynamic version of `model` is kept, per onnxruntime version (the
    check ran on that runtime)."""
    digest = hashlib.sha256(model).hexdigest()[:32]
    return cache_dir() / "dynamic" / f"{digest}-ort{ort.__version__}.onnx"


def _cached_patched_session(
    original: ort.InferenceSession, model: bytes, threads: int, providers: Providers
) -> ort.InferenceSession | None:
    """`_patched_session`, with the checked patch kept on disk: later starts load it directly
    instead of importing `onnx`, patching and checking again (seconds on a small CPU)."""
    cached = _patched_cache_path(model)
    try:
        return _session(cached.read_bytes(), threads, providers)
    except Exception:  # absent, unreadable or damaged: patch again
        pass
    found = _patched_session(original, model, threads, providers)
    if found is None:
        return None
    session, patched = found
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(patched)
        partial.replace(cached)  # atomic: a concurrent start never reads half a file
    except OSError:  # a read-only cache only costs the next start its time
        pass
    return session


class OnnxDetector:
    """Runs a YOLOX or YOLOv8-style ONNX detector on batches of BGR images of any size.

    Dynamic-shape models (and fixed YOLOX-style exports, patched at load) run each image at the
    smallest multiple-of-32 size that holds it scaled to fit `input_size` (w, h), batching images
    whose padded sizes match. Fixed-shape models run each image alone at the model's own size,
    whatever `input_size` says. `device` picks the execution provider (`auto`: the best one
    present; `device_choice` says which and why). `upscale` lets images smaller than the input
    be enlarged; by default they run at their own (padded) size, which is cheaper. `reshape=False` keeps a
    fixed-shape model as exported (every image letterboxed to the model's own square input).
    `session.run` releases the GIL, so `detect` may overlap with decoding in other threads.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        input_size: tuple[int, int] = (416, 416),
        conf_threshold: float = 0.25,
        nms_iou: float = 0.45,
        classes: set[int] | None = None,
        threads: int = 2,
        decoder: DecoderName = "auto",
        upscale: bool = False,
        reshape: bool = True,
        device: Device = "cpu",
    ) -> None:
        if decoder not in ("auto", "yolox", "yolov8"):
            raise ValueError(f"decoder must be 'auto', 'yolox' or 'yolov8', not {decoder!r}")
        self.model_path = resolve_model(model_path)
        self.conf_threshold = conf_threshold
        self.nms_iou = nms_iou
        self.upscale = upscale
        where = str(self.model_path)
        try:
            model = self.model_path.read_bytes()
        except OSError as e:
            raise ModelError(f"cannot read model file {where}: {e.strerror}") from None

        def open_session(providers: Providers) -> ort.InferenceSession:
            try:
                return _session(model, threads, providers)
            except Exception as e:  # onnxruntime raises several unrelated types
                raise ModelError(f"{where}: not a loadable ONNX model ({_first_line(e)})") from None

        session, self.device_choice = start_session(device, open_session)
        providers = self.device_choice.providers
        shape = self._check_input(session, where)
        if reshape and any(isinstance(shape[k], int) for k in (0, 2, 3)):
            session = _cached_patched_session(session, model, threads, providers) or session
            shape = session.get_inputs()[0].shape
        self._session = session
        self._input_name = session.get_inputs()[0].name
        self._output_name = session.get_outputs()[0].name
        self.batch_dynamic = not isinstance(shape[0], int)
        self.dynamic = not isinstance(shape[2], int) and not isinstance(shape[3], int)
        if self.dynamic and (min(input_size) < STRIDE or any(v % STRIDE for v in input_size)):
            raise ValueError(f"input_size must be positive multiples of {STRIDE}, not {input_size}")
        width = shape[3] if isinstance(shape[3], int) else input_size[0]
        height = shape[2] if isinstance(shape[2], int) else input_size[1]
        self.input_size = (width, height)
        self.decoder: Decoder = self._choose_decoder(decoder, where)
        self._classes = self._check_classes(classes, where)

    @staticmethod
    def _check_input(session: ort.InferenceSession, where: str) -> list[int | str | None]:
        inp = session.get_inputs()[0]
        shape = list(inp.shape)
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise ModelError(
                f"{where}: input {inp.name!r} has shape {shape}, expected [N, 3, H, W] (BGR image)"
            )
        if inp.type != "tensor(float)":
            raise ModelError(f"{where}: input {inp.name!r} is {inp.type}, expected tensor(float)")
        if isinstance(shape[0], int) and shape[0] != 1:
            raise ModelError(f"{where}: input {inp.name!r} has fixed batch {shape[0]}, expected 1")
        return shape

    def _choose_decoder(self, kind: DecoderName, where: str) -> Decoder:
        width, height = self.input_size
        try:
            out = _run(self._session, np.full((1, 3, height, width), 114, np.float32))
        except Exception as e:  # onnxruntime raises several unrelated types
            raise ModelError(
                f"{where}: inference fails on a {width}x{height} input ({_first_line(e)})"
            ) from None
        try:
            return choose_decoder(out.shape, height, width, kind)
        except ValueError as e:
            raise ModelError(f"{where}: {e}") from None

    def _check_classes(self, classes: set[int] | None, where: str) -> np.ndarray | None:
        if classes is None:
            return None
        n = self.decoder.num_classes
        bad = sorted(c for c in classes if not 0 <= c < n)
        if bad:
            raise ModelError(
                f"{where}: classes {bad} out of range for a {n}-class model (0-{n - 1})"
            )
        return np.array(sorted(classes), dtype=np.int64)

    def input_shape_for(self, width: int, height: int) -> tuple[int, int]:
        """The network input (w, h) that a `width`×`height` image is letterboxed into."""
        return plan_letterbox(
            width, height, self.input_size, rect=self.dynamic, upscale=self.upscale
        ).padded

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """One `Detections` per image, boxes in that image's pixels (see `Detector`)."""
        results = [Detections.empty() for _ in images]
        groups: dict[tuple[int, int], list[tuple[int, Letterbox]]] = {}
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"image {i}: expected BGR uint8 (H, W, 3), got {image.dtype} {image.shape}"
                )
            height, width = image.shape[:2]
            if height and width:
                box = plan_letterbox(
                    width, height, self.input_size, rect=self.dynamic, upscale=self.upscale
                )
                groups.setdefault(box.padded, []).append((i, box))
        for (pad_w, pad_h), members in groups.items():
            step = len(members) if self.batch_dynamic else 1
            for start in range(0, len(members), step):
                chunk = members[start : start + step]
                blob = np.empty((len(chunk), 3, pad_h, pad_w), np.float32)
                for j, (i, box) in enumerate(chunk):
                    letterbox_into(images[i], box, blob[j])
                out = self._session.run([self._output_name], {self._input_name: blob})[0]
                for j, (i, box) in enumerate(chunk):
                    results[i] = self._postprocess(out[j], box)
        return results

    def _postprocess(self, out: np.ndarray, box: Letterbox) -> Detections:
        """Decode, NMS, then map boxes back to image pixels and clip them to the image."""
        pad_w, pad_h = box.padded
        xyxy, scores, class_ids = self.decoder.decode(
            out, pad_h, pad_w, self.conf_threshold, self._classes
        )
        keep = nms(xyxy, scores, class_ids, self.nms_iou)
        if keep.size == 0:
            return Detections.empty()
        scale = np.array([box.scale_x, box.scale_y] * 2, np.float32)
        limit = np.array([box.width, box.height] * 2, np.float32)
        xyxy = np.clip(xyxy[keep] / scale, 0, limit)
        # Boxes that lay wholly in the padding collapse to zero size once clipped.
        valid = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        return Detections(xyxy[valid], scores[keep][valid], class_ids[keep][valid])
