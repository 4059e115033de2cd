"""Letterboxing: scale an image to fit the network input, paste top-left, pad with 114."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114
STRIDE = 32


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How one image maps into a network input of `padded` (w, h).

    The image is resized to `resized` (w, h) and pasted at the top-left; `scale_x`/`scale_y`
    are the exact per-axis factors (resized / original), used to map boxes back.
    """

    width: int
    height: int
    resized: tuple[int, int]
    padded: tuple[int, int]

    @property
    def scale_x(self) -> float:
        return self.resized[0] / self.width

    @property
    def scale_y(self) -> float:
        return self.resized[1] / self.height


def plan_letterbox(
    width: int, height: int, input_size: tuple[int, int], *, rect: bool, upscale: bool
) -> Letterbox:
    """Fit a `width`×`height` image into `input_size` (w, h), keeping the aspect ratio.

    With `rect` (dynamic-shape models) the padded size is the smallest multiple of 32 that holds
    the resized image (768×576 into 416×416 → 416×320), which is cheaper to run; otherwise it is
    `input_size`. Without `upscale`, images smaller than the input keep their size.
    """
    in_w, in_h = input_size
    scale = min(in_w / width, in_h / height)
    if not upscale:
        scale = min(scale, 1.0)
    new_w = min(in_w, max(1, round(width * scale)))
    new_h = min(in_h, max(1, round(height * scale)))
    padded = (-(-new_w // STRIDE) * STRIDE, -(-new_h // STRIDE) * STRIDE) if rect else (in_w, in_h)
    return Letterbox(width, height, (new_w, new_h), padded)


def letterbox_into(image: np.ndarray, box: Letterbox, out: np.ndarray) -> None:
    """Write `image` letterboxed as float32 CHW (BGR, 0–255) into `out` of shape (3, h, w)."""
    new_w, new_h = box.resized
    if (new_w, new_h) != (box.width, box.height):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    # Writing the transposed view straight into the float blob does the HWC→CHW shuffle and the
    # uint8→float32 cast in one numpy pass; only the pad strips are filled separately.
    out[:, :new_h, :new_w] = image.transpose(2, 0, 1)
    out[:, new_h:, :] = PAD_VALUE
    out[:, :new_h, new_w:] = PAD_VALUE
