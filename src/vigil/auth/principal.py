"""Roles and `Principal`, the authenticated user a request acts for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["ALL_CAMERAS", "ROLES", "Principal", "Role", "check_role", "role_at_least"]

#: admin: everything (config, apps, users, audit); operator: live, events, recordings,
#: exports, metrics; viewer: live and events.
Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)  # lowest first
ALL_CAMERAS = "*"  # in `Principal.unmask`: every camera
_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}


def check_role(role: str) -> Role:
    """`role` when it is one of `ROLES`; ValueError naming it otherwise."""
    for known in ROLES:
        if role == known:
            return known
    raise ValueError(f"role {role!r}: must be one of {', '.join(reversed(ROLES))}")


def role_at_least(role: str, minimum: str) -> bool:
    return _RANK.get(role, -1) >= _RANK[minimum]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: a user (by session cookie) or a user's API token.

    `cameras`: the camera ids the user may see, None for every camera. `unmask`: the
    camera ids whose privacy masks the user may lift (``*``: every camera they may see).
    """

    username: str
    role: Role
    cameras: frozenset[str] | None = None
    unmask: frozenset[str] = frozenset()

    def at_least(self, minimum: Role) -> bool:
        return role_at_least(self.role, minimum)

    def can_see(self, camera: str) -> bool:
        return self.cameras is None or camera in self.cameras

    def may_unmask(self, camera: str) -> bool:
        """Whether the user holds the ``unmask`` permission on `camera`."""
        return self.can_see(camera) and (camera in self.unmask or ALL_CAMERAS in self.unmask)

    def visible(self, cameras: list[str]) -> list[str]:
        """The ids in `cameras` this principal may see, in order."""
        return [c for c in cameras if self.can_see(c)]
