"""`Detections`: the one array-of-boxes type that flows from detector to tracker to apps."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _empty_ids() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


@dataclass(slots=True)
class Detections:
    """N boxes in one frame, in frame pixel coordinates.

    `xyxy` is float32 (N, 4); `confidence` float32 (N,); `class_id` int64 (N,);
    `tracker_id` int64 (N,) — filled by the tracker, -1 for untracked boxes.
    Boolean or integer indexing returns a new `Detections` (as in Roboflow supervision).
    """

    xyxy: np.ndarray
    """float32 (N, 4): left, top, right, bottom in pixels."""
    confidence: np.ndarray
    """float32 (N,): the detector's score, 0..1."""
    class_id: np.ndarray
    """int64 (N,): the class of each box (an index into `vigil.apps.Scene.class_names`)."""
    tracker_id: np.ndarray = field(default_factory=_empty_ids)
    """int64 (N,): the track each box belongs to, -1 for an untracked box."""

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(self.xyxy)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(n)
        self.class_id = np.asarray(self.class_id, dtype=np.int64).reshape(n)
        if len(self.tracker_id) != n:
            self.tracker_id = np.full(n, -1, dtype=np.int64)
        else:
            self.tracker_id = np.asarray(self.tracker_id, dtype=np.int64)

    @classmethod
    def empty(cls) -> Detections:
        """No boxes."""
        return cls(np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, np.int64))

    @classmethod
    def merge(cls, parts: list[Detections]) -> Detections:
        """The boxes of all `parts`, in order."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            np.concatenate([p.tracker_id for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice | int) -> Detections:
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Detections(
            self.xyxy[index], self.confidence[index], self.class_id[index], self.tracker_id[index]
        )

    @property
    def anchors(self) -> np.ndarray:
        """Bottom-centre of each box (N, 2): where an object stands on the ground."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    @property
    def centers(self) -> np.ndarray:
        """Centre of each box (N, 2)."""
        centers: np.ndarray = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        return centers

    @property
    def area(self) -> np.ndarray:
        """Area of each box in square pixels (N,)."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        area: np.ndarray = wh[:, 0] * wh[:, 1]
        return area
