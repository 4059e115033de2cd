"""`LiftStore`: lifted privacy masks in Vigil's database.

A camera's privacy policy (`vigil.config.privacy.PrivacySettings`) serves some roles its
footage masked. A user holding the ``unmask`` permission on that camera
(`Principal.may_unmask`, given with ``vigil users grant-unmask`` or ``PATCH /api/users``)
may lift the masks: for themselves, on that camera only, with a reason, for at most the
policy's `lift_minutes`. On a camera whose policy asks for four eyes the lift waits, pending,
until another admin approves it. A lift ends when its time is up, or earlier when its user
or an admin ends it; the rows stay, as the record of who saw what and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.auth.principal import Principal
from vigil.auth.store import AuthError
from vigil.db.database import Database
from vigil.db.schema import LiftRow

__all__ = ["MAX_REASON", "Lift", "LiftError", "LiftStatus", "LiftStore"]

MAX_REASON = 1000
LiftStatus = Literal["pending", "active", "expired", "ended"]


class LiftError(AuthError):
    """A lift request that cannot be done (one line); `status` is its HTTP status."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Lift:
    id: int
    camera: str
    username: str
    reason: str
    minutes: float
    requested_at: float
    approved_by: str | None
    starts_at: float | None  # None: pending approval
    expires_at: float | None
    ended_at: float | None
    ended_by: str | None

    def status(self, now: float) -> LiftStatus:
        if self.ended_at is not None:
            return "ended"
        if self.starts_at is None or self.expires_at is None:
            return "pending"
        return "active" if now < self.expires_at else "expired"


def _lift(row: LiftRow) -> Lift:
    return Lift(
        id=row.id,
        camera=row.camera,
        username=row.username,
        reason=row.reason,
        minutes=row.minutes,
        requested_at=row.requested_at,
        approved_by=row.approved_by,
        starts_at=row.starts_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
    )


class LiftStore:
    """Lifts of privacy masks; every method is one short transaction."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self.clock = clock

    def request(
        self,
        camera: str,
        principal: Principal,
        reason: str,
        minutes: float,
        *,
        max_minutes: float,
        four_eyes: bool,
    ) -> Lift:
        """Lift `camera`'s masks for `principal` for `minutes` (active now, or pending a
        second admin's approval with `four_eyes`). `LiftError` (403) without the
        permission, (422) for a missing reason or too long a time, (409) when the user
        already has a lift of this camera active or pending."""
        if not principal.may_unmask(camera):
            raise LiftError(f"{principal.username!r} may not lift masks on {camera!r}", 403)
        reason = " ".join(reason.split())
        if not reason:
            raise LiftError("reason: say why the masks are lifted", 422)
        if len(reason) > MAX_REASON:
            raise LiftError(f"reason: at most {MAX_REASON} characters", 422)
        if not 0 < minutes <= max_minutes:
            raise LiftError(
                f"minutes {minutes:g}: between 0 and {max_minutes:g} on {camera!r}", 422
            )
        now = self.clock()
        with self.database.write() as s:
            for row in self._open_rows(s, camera, principal.username, now):
                current = _lift(row).status(now)
                if current in ("pending", "active"):
                    raise LiftError(f"lift {row.id} on {camera!r} is already {current}", 409)
            row = LiftRow(
                camera=camera,
                username=principal.username,
                reason=reason,
                minutes=float(minutes),
                requested_at=now,
            )
            if not four_eyes:
                row.starts_at, row.expires_at = now, now + 60.0 * minutes
            s.add(row)
            s.flush()
            return _lift(row)

    def approve(self, lift_id: int, approver: Principal) -> Lift:
        """Start a pending lift, approved by `approver` (an admin other than its user)."""
        now = self.clock()
        with self.database.write() as s:
            row = self._row_or_raise(s, lift_id)
            if approver.username == row.username:
                raise LiftError(f"lift {lift_id}: needs another admin's approval", 403)
            if _lift(row).status(now) != "pending":
                raise LiftError(f"lift {lift_id} is {_lift(row).status(now)}, not pending", 409)
            row.approved_by = approver.username
            row.starts_at, row.expires_at = now, now + 60.0 * row.minutes
            s.flush()
            return _lift(row)

    def end(self, lift_id: int, by: Principal) -> Lift:
        """End a lift early, or refuse a pending one: by its user or an admin."""
        now = self.clock()
        with self.database.write() as s:
            row = self._row_or_raise(s, lift_id)
            if by.username != row.username and not by.at_least("admin"):
                raise LiftError(f"lift {lift_id}: only its user or an admin may end it", 403)
            if _lift(row).status(now) in ("ended", "expired"):
                raise LiftError(f"lift {lift_id} is already over", 409)
            row.ended_at, row.ended_by = now, by.username
            s.flush()
            return _lift(row)

    def get(self, lift_id: int) -> Lift | None:
        with self.database.read() as s:
            row = s.get(LiftRow, lift_id)
            return None if row is None else _lift(row)

    def active(self, camera: str, username: str) -> Lift | None:
        """The user's lift in effect on `camera` now, if any."""
        now = self.clock()
        with self.database.read() as s:
            for row in self._open_rows(s, camera, username, now):
                if _lift(row).status(now) == "active":
                    return _lift(row)
        return None

    def lifts(
        self,
        *,
        camera: str | None = None,
        username: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[Lift]:
        """Lifts newest first: of one camera, of one user, requested at or after `since`."""
        stmt = select(LiftRow)
        if camera is not None:
            stmt = stmt.where(LiftRow.camera == camera)
        if username is not None:
            stmt = stmt.where(LiftRow.username == username)
        if since is not None:
            stmt = stmt.where(LiftRow.requested_at >= since)
        stmt = stmt.order_by(LiftRow.requested_at.desc(), LiftRow.id.desc()).limit(limit)
        with self.database.read() as s:
            return [_lift(r) for r in s.scalars(stmt)]

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _open_rows(s: Session, camera: str, username: str, now: float) -> list[LiftRow]:
        """The user's lifts of `camera` pending or not yet run out."""
        return list(
            s.scalars(
                select(LiftRow).where(
                    LiftRow.camera == camera,
                    LiftRow.username == username,
                    LiftRow.ended_at.is_(None),
                    LiftRow.expires_at.is_(None) | (LiftRow.expires_at > now),
                )
            )
        )

    @staticmethod
    def _row_or_raise(s: Session, lift_id: int) -> LiftRow:
        row = s.get(LiftRow, lift_id)
        if row is None:
            raise LiftError(f"unknown lift {lift_id}", 404)
        return row
