"""`Frame`: one decoded picture with the time it was presented."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True, frozen=True)
class Frame:
    """A decoded frame.

    `index` is the 0-based decode index (MOTChallenge frame number = index + 1);
    `pts` is the presentation time in seconds from the start of the stream;
    `image` is BGR uint8 (H, W, 3); `wall_time` is when a live source received the frame
    (seconds since the epoch), None for files.
    """

    source_id: str
    index: int
    pts: float
    image: np.ndarray
    wall_time: float | None = None

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
