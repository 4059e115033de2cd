"""Forensic search over stored tracks: every finished track is summarised (`summary`:
path, zones visited, lines crossed, dwell, top speed) and stored (`store`), then searched by
camera, time, class, "passed through this area", "crossed this line this way", dwell and
speed."""

from vigil.forensics.store import TrackHit, TrackQuery, TrackStore
from vigil.forensics.summary import TrackSummarizer, TrackSummary

__all__ = ["TrackHit", "TrackQuery", "TrackStore", "TrackSummarizer", "TrackSummary"]
