"""outputs stage: annotated frames, H.264 MP4 video, end-of-run summary."""

from vigil.outputs.annotate import Annotator, format_counter_lines, track_color
from vigil.outputs.summary import RunStats, RunSummary
from vigil.outputs.video import VideoWriter

__all__ = [
    "Annotator",
    "RunStats",
    "RunSummary",
    "VideoWriter",
    "format_counter_lines",
    "track_color",
]
