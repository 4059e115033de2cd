"""Object detection: images in, `Detections` out."""

from vigil.detection.detections import Detections

__all__ = ["Detections"]
