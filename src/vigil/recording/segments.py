"""What a finished recording segment is, as the segmenter reports it and the index stores it.

Here, in recording, because recording makes segments; the service only carries them from a
camera worker to the supervisor (`vigil.service.messages.WorkerMessage`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class SegmentInfo:
    """A finished recording segment: a playable MP4 remuxed from the camera's packets."""

    camera: str
    path: str
    start_time: float  # wall clock, seconds since the epoch
    end_time: float
    size_bytes: int
    motion: bool = False  # any motion while it was recorded
    objects: bool = False  # any tracked object while it was recorded
