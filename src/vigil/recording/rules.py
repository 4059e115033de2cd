"""A camera's retention rules: how long its recording mode keeps footage, how long events
protect what they reference, and its privacy policy's maximums (recordings, snapshots,
per-frame boxes, events), with the longest each kind of its data is kept (what the camera
page and the API show). `vigil.recording.retention` applies them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from vigil.config.site import CameraConfig

__all__ = ["DAY", "CameraRetention", "KeptDays", "RecordMode", "camera_retention"]

DAY = 86400.0
RecordMode = Literal["continuous", "motion", "events", "off"]
_MODES = ("continuous", "motion", "events", "off")


@dataclass(frozen=True, slots=True)
class CameraRetention:
    """How long one camera's footage is kept (days may be fractional)."""

    mode: RecordMode = "continuous"
    retain_days: float = 7.0
    motion_days: float = 7.0
    event_days: float = 30.0
    pre_roll: float = 5.0
    post_roll: float = 5.0
    # The camera's maximums (None: no maximum beyond the rules above and the site's).
    max_days: float | None = None
    snapshots_days: float | None = None
    boxes_days: float | None = None
    events_days: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ValueError(
                f"recording mode must be one of {', '.join(_MODES)}, got {self.mode!r}"
            )
        for name in ("retain_days", "motion_days", "event_days", "pre_roll", "post_roll"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("max_days", "snapshots_days", "boxes_days", "events_days"):
            if (getattr(self, name) or 0) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def protect_days(self) -> float:
        """How long an event protects the footage it references: `event_days`, no longer
        than the camera keeps its recordings or its events at most."""
        return min(_days(self.event_days, self.max_days, self.events_days))

    def kept_days(self, site_events_days: float | None) -> KeptDays:
        """The longest each kind of this camera's data is kept, given the site's
        `events_days` (what a data-protection officer reads; the disk budget may keep less)."""
        by_age = {"events": 0.0, "motion": self.motion_days}.get(
            self.mode, max(self.retain_days, self.motion_days)
        )
        recordings = min(_days(max(by_age, self.protect_days), self.max_days))
        events = _days(site_events_days, self.events_days)
        snapshots = _days(site_events_days, self.snapshots_days, self.events_days)
        return KeptDays(
            recordings=recordings,
            snapshots=min(snapshots) if snapshots else None,
            boxes=min(_days(recordings, self.boxes_days)),
            events=min(events) if events else None,
        )

    def snapshot_cutoff(self, now: float, site_days: float | None) -> float | None:
        """Snapshots taken before this time are past the site's `site_days` or this camera's
        maximum for snapshots or for the events they belong to (None: kept)."""
        days = _days(site_days, self.snapshots_days, self.events_days)
        return now - min(days) * DAY if days else None

    def cutoffs(self, now: float, grace: float) -> tuple[float, float]:
        """(inactive, active): segments that ended before these times are past their age."""
        if self.mode == "motion":
            inactive, active = now - grace, now - self.motion_days * DAY
        elif self.mode == "events":
            inactive = active = now - grace
        else:  # continuous, off
            inactive = now - self.retain_days * DAY
            active = now - max(self.retain_days, self.motion_days) * DAY
        return min(inactive, now - grace), min(active, now - grace)


@dataclass(frozen=True, slots=True)
class KeptDays:
    """The longest a camera's data is kept, in days (None: no time limit)."""

    recordings: float
    snapshots: float | None
    boxes: float
    events: float | None


def camera_retention(camera: CameraConfig) -> CameraRetention:
    """The retention rules of a site's camera: its record settings and its privacy
    policy's maximums."""
    record, limits = camera.record, camera.privacy.retention
    return CameraRetention(
        mode=record.mode,
        retain_days=record.retain_days,
        motion_days=record.retain_days,
        event_days=record.event_retain_days,
        pre_roll=record.pre_roll,
        post_roll=record.post_roll,
        max_days=limits.recordings_days,
        snapshots_days=limits.snapshots_days,
        boxes_days=limits.boxes_days,
        events_days=limits.events_days,
    )


def _days(*days: float | None) -> list[float]:
    """The limits that are set."""
    return [d for d in days if d is not None]
