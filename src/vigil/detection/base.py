"""The `Detector` protocol every detector backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from vigil.detection.detections import Detections


@runtime_checkable
class Detector(Protocol):
    """Finds objects in a batch of images.

    Images are BGR uint8 (H, W, 3) of any sizes (full frames and crops mixed). The result has
    one `Detections` per image, in input order, with boxes in that image's pixel coordinates,
    clipped to the image.
    """

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]: ...


@runtime_checkable
class LetterboxingDetector(Detector, Protocol):
    """A `Detector` that says the network input an image is letterboxed into: the engine
    sizes its motion crops to it (the in-process ONNX detector and the shared service's
    client both are)."""

    def input_shape_for(self, width: int, height: int) -> tuple[int, int]: ...
