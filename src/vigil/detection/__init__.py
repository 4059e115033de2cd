"""Object detection: images in, `Detections` out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vigil.detection.base import Detector
from vigil.detection.classes import COCO_CLASSES, coco_class_ids
from vigil.detection.detections import Detections
from vigil.detection.models import MODELS, ModelSpec, pull_model, resolve_model

if TYPE_CHECKING:
    from vigil.detection.onnx_backend import OnnxDetector

__all__ = [
    "COCO_CLASSES",
    "MODELS",
    "Detections",
    "Detector",
    "ModelSpec",
    "OnnxDetector",
    "coco_class_ids",
    "pull_model",
    "resolve_model",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: onnxruntime takes ~0.1 s to import and most users of this
    # package (tracker, apps) only need `Detections`.
    if name == "OnnxDetector":
        from vigil.detection.onnx_backend import OnnxDetector

        return OnnxDetector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
