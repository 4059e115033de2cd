"""Subject-access exports (GDPR art. 15): one person's footage, everyone else masked.

An admin names a camera, a time range and the person's track (or an event of that track)
and gives a reason; an export job (`vigil.api.exports.ExportJobs`) writes an MP4 in which
that track is visible and every other object of the policy's classes (people at least) is
masked, with the static polygons, from the boxes stored with the recordings. When it is
done the job carries a record of what was exported and why (who, when, the range, the
track, the reason, the file's name, size and SHA-256), which also goes into the audit log
(``subject_access.done``) so it outlives the job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vigil.api.exports import Exporter, masked_exporter
from vigil.api.privacy import PrivacyView
from vigil.config.privacy import PrivacySettings
from vigil.privacy.boxes import read_boxes

__all__ = ["subject_access_exporter", "track_seen"]

RECORD_KIND = "vigil.subject-access/1"


def track_seen(index: Any, camera: str, start: float, end: float, track_id: int) -> bool:
    """Whether the track is in the stored boxes of the camera's segments in [start, end)."""
    for segment in index.between(camera, start, end):
        track = read_boxes(segment.path)
        if track is not None:
            seen = track.track_ids_between(start - segment.start_time, end - segment.start_time)
            if track_id in seen.tolist():
                return True
    return False


def subject_access_exporter(
    index: Any,
    camera: str,
    settings: PrivacySettings,
    span: tuple[float, float],
    subject: dict[str, Any],
    filename: str,
    done: Callable[[dict[str, Any]], None],
) -> Exporter:
    """The export job's work: the masked copy keeping `subject["track_id"]`, then the record
    (handed to `done`: the route keeps it with the job and audits it).

    `subject`: who asked (``requested_by``), ``track_id``, ``event_id``, ``reason``."""
    start, end = span
    track_id = int(subject["track_id"])
    view = PrivacyView(camera, settings, mask_objects=True)
    copy = masked_exporter(index, camera, start, end, view, keep_track=track_id)

    def run(out: Path, progress: Callable[[float], None]) -> Path:
        if not track_seen(index, camera, start, end, track_id):
            raise LookupError(f"track {track_id} is not in the stored boxes of that range")
        path = copy(out, progress)
        done(
            {
                "kind": RECORD_KIND,
                "camera": camera,
                **subject,
                "exported_at": _iso(datetime.now(UTC).timestamp()),
                "range": {"start": _iso(start), "end": _iso(end)},
                "masking": settings.model_dump(mode="json", include={"mask", "mode", "margin"})
                | {"others": "masked", "subject": "visible"},
                "files": [
                    {"name": filename, "bytes": path.stat().st_size, "sha256": _sha256(path)}
                ],
            }
        )
        return path

    return run


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
