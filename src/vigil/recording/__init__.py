"""recording stage: camera packets remuxed into MP4 segments, their index, retention and
export.

- `Segmenter` writes a camera's packets (no re-encoding) into fixed-length MP4 segments
  and reports each finished one as a `SegmentInfo`; `recover()` repairs what a killed
  process left behind.
- `SegmentIndex` keeps the segments in Vigil's database (table ``segments``).
- `RetentionPolicy` deletes footage, snapshots and cached clips by age per recording mode,
  by a disk budget (event footage kept up to a share of it) and by a free-space floor.
- `export()` / `event_clip()` join the segments of a time range into one MP4.

Names are imported lazily, so a camera worker that only records does not load SQLAlchemy.
The export function is ``vigil.recording.export.export`` (the package attribute
``export`` is that submodule).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.recording.export import RecordingError, event_clip
    from vigil.recording.index import Segment, SegmentIndex
    from vigil.recording.retention import CameraRetention, RetentionPolicy, store_events
    from vigil.recording.segmenter import Segmenter, recover

__all__ = [
    "CameraRetention",
    "RecordingError",
    "RetentionPolicy",
    "Segment",
    "SegmentIndex",
    "Segmenter",
    "event_clip",
    "recover",
    "store_events",
]

_WHERE = {
    "RecordingError": "export",
    "event_clip": "export",
    "Segment": "index",
    "SegmentIndex": "index",
    "CameraRetention": "retention",
    "RetentionPolicy": "retention",
    "store_events": "retention",
    "Segmenter": "segmenter",
    "recover": "segmenter",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'vigil.recording' has no attribute {name!r}")
    return getattr(import_module(f"vigil.recording.{module}"), name)
