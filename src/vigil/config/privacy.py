"""A camera's privacy policy, as its ``privacy:`` section in the site file.

Who is served masked footage (`roles`), what is masked (`mask`: tracked classes, blurred,
pixelated or filled, the whole box or its upper part, padded by `margin`; `static` polygons,
burned into everything served and left out of motion and detection), and what the site keeps
of this camera and why (`purpose`, `retention`). Recordings on disk are never altered: masks
are applied when footage is served.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from vigil.config.schema import PolygonConfig, _Model

MaskMode = Literal["blur", "pixelate", "solid"]
MaskPart = Literal["box", "upper"]
MaskedRole = Literal["viewer", "operator", "admin"]
ALL_ROLES: tuple[MaskedRole, ...] = ("viewer", "operator", "admin")


class RetentionLimits(_Model):
    """The most this camera's data may be kept, in days (None: the site's settings)."""

    recordings_days: float | None = Field(None, ge=0)
    snapshots_days: float | None = Field(None, ge=0)
    boxes_days: float | None = Field(None, ge=0)
    """The per-frame tracked boxes stored with the recordings (masking, subject access)."""
    events_days: float | None = Field(None, ge=0)


class PrivacySettings(_Model):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    mask: list[str] = Field(default_factory=list)
    """Tracked classes masked on everything served (e.g. ``[person]``, ``[person, car]``)."""
    roles: list[MaskedRole] = Field(default_factory=lambda: list(ALL_ROLES), alias="for")
    """The roles served masked footage (the file's key is ``for``); a user given the
    ``unmask`` permission may lift the masks for a while, with a reason, audited."""
    mode: MaskMode = "pixelate"
    part: MaskPart = "box"
    """``box``: the whole box; ``upper``: its upper part (head and shoulders)."""
    margin: float = Field(0.1, ge=0, le=1)
    """Padding around each box, as a share of its width and height."""
    static: list[PolygonConfig] = Field(default_factory=list)
    """Polygons always masked (windows, a neighbour's garden), for every role, and left out
    of motion and detection."""
    purpose: str = ""
    """Why this camera records (shown on the camera page and in the API)."""
    retention: RetentionLimits = Field(default_factory=RetentionLimits)
    lift_minutes: float = Field(15.0, gt=0, le=24 * 60)
    """How long a lifted mask stays lifted."""
    four_eyes: bool = False
    """Lifting needs a second admin's approval."""

    def masks_objects_for(self, role: str) -> bool:
        """Whether `role` is served this camera's footage with its tracked objects masked
        (before any lift). Static masks apply to every role, always."""
        return bool(self.mask) and role in self.roles
