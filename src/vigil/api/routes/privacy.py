"""Lifting privacy masks: ``GET /api/cameras/{id}/privacy`` (what the user is served and
may do), ``POST /api/cameras/{id}/lift`` (a reason, a time limit),
``POST /api/lifts/{id}/approve`` (four eyes: another admin), ``DELETE /api/lifts/{id}``
(end it early, or refuse a pending one), ``GET /api/lifts``. Every change is audited
(``privacy.lift``, ``privacy.lift.approve``, ``privacy.lift.end``); see `vigil.auth.lifts`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from vigil.api.deps import Admin, State, Viewer, camera_or_404
from vigil.api.privacy import camera_privacy, lift_store
from vigil.api.schemas import ERROR_RESPONSES, Timestamp
from vigil.api.state import ServiceState
from vigil.auth.lifts import MAX_REASON, Lift, LiftError
from vigil.auth.policy import audit
from vigil.auth.principal import Principal

__all__ = ["router"]

router = APIRouter(tags=["privacy"], responses=ERROR_RESPONSES)

LiftId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # an INTEGER column on every backend


class LiftIn(BaseModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="Why (required).")
    minutes: float | None = Field(
        None, gt=0, description="How long; at most the camera's lift_minutes (its default)."
    )


class LiftOut(BaseModel):
    id: int
    camera: str
    username: str
    reason: str
    minutes: float
    status: Literal["pending", "active", "expired", "ended"]
    requested_at: float
    approved_by: str | None
    starts_at: float | None
    expires_at: float | None
    ended_at: float | None
    ended_by: str | None


class CameraPrivacyOut(BaseModel):
    camera: str
    masked: bool = Field(description="The policy masks the camera's tracked objects for you.")
    may_lift: bool = Field(description="You hold the unmask permission on this camera.")
    lift_minutes: float
    four_eyes: bool
    lift: LiftOut | None = Field(description="Your lift of this camera, active or pending.")


def _out(lift: Lift, state: ServiceState) -> LiftOut:
    return LiftOut(
        id=lift.id,
        camera=lift.camera,
        username=lift.username,
        reason=lift.reason,
        minutes=lift.minutes,
        status=lift.status(state.clock()),
        requested_at=lift.requested_at,
        approved_by=lift.approved_by,
        starts_at=lift.starts_at,
        expires_at=lift.expires_at,
        ended_at=lift.ended_at,
        ended_by=lift.ended_by,
    )


def _audit(request: Request, principal: Principal, action: str, lift: Lift) -> None:
    audit(
        request,
        principal,
        action,
        lift.camera,
        {
            "lift": lift.id,
            "user": lift.username,
            "reason": lift.reason,
            "minutes": lift.minutes,
            "starts_at": lift.starts_at,
            "expires_at": lift.expires_at,
        },
    )


@contextlib.contextmanager
def _refused() -> Iterator[None]:
    """A `LiftError` as its HTTP status and one line."""
    try:
        yield
    except LiftError as err:
        raise HTTPException(err.status, str(err)) from None


def _visible_lift(state: ServiceState, principal: Principal, lift_id: int) -> Lift:
    lift = lift_store(state).get(lift_id)
    if lift is None or not principal.can_see(lift.camera):
        raise HTTPException(404, f"unknown lift {lift_id}")
    return lift


@router.get("/api/cameras/{camera_id}/privacy", response_model=CameraPrivacyOut)
def camera_privacy_for_me(camera_id: str, principal: Viewer, state: State) -> CameraPrivacyOut:
    """Whether the camera is served masked to you, whether you may lift its masks, and
    your lift in effect or pending (the camera page's "Lift masks" control)."""
    camera_or_404(state, camera_id)
    settings = camera_privacy(state, camera_id)
    masked = settings.masks_objects_for(principal.role)
    now = state.clock()
    # One lift per user and camera is open at a time: the newest, if any.
    newest = lift_store(state).lifts(camera=camera_id, username=principal.username, limit=1)
    current = next((x for x in newest if x.status(now) in ("active", "pending")), None)
    return CameraPrivacyOut(
        camera=camera_id,
        masked=masked,
        may_lift=masked and principal.may_unmask(camera_id),
        lift_minutes=settings.lift_minutes,
        four_eyes=settings.four_eyes,
        lift=None if current is None else _out(current, state),
    )


@router.post("/api/cameras/{camera_id}/lift", response_model=LiftOut, status_code=201)
def lift_masks(
    camera_id: str, body: LiftIn, request: Request, principal: Viewer, state: State
) -> LiftOut:
    """Lift the camera's masks for yourself (needs the ``unmask`` permission on it): a
    reason is required, and the lift ends after `minutes`. On a four-eyes camera it stays
    pending until another admin approves it."""
    camera_or_404(state, camera_id)
    settings = camera_privacy(state, camera_id)
    if not settings.masks_objects_for(principal.role):
        raise HTTPException(409, f"camera {camera_id!r}: nothing is masked for {principal.role}")
    with _refused():
        lift = lift_store(state).request(
            camera_id,
            principal,
            body.reason,
            settings.lift_minutes if body.minutes is None else body.minutes,
            max_minutes=settings.lift_minutes,
            four_eyes=settings.four_eyes,
        )
    _audit(request, principal, "privacy.lift", lift)
    return _out(lift, state)


@router.post("/api/lifts/{lift_id}/approve", response_model=LiftOut)
def approve_lift(lift_id: LiftId, request: Request, principal: Admin, state: State) -> LiftOut:
    """Approve another user's pending lift (four eyes); it runs from now."""
    _visible_lift(state, principal, lift_id)
    with _refused():
        lift = lift_store(state).approve(lift_id, principal)
    _audit(request, principal, "privacy.lift.approve", lift)
    return _out(lift, state)


@router.delete("/api/lifts/{lift_id}", response_model=LiftOut)
def end_lift(lift_id: LiftId, request: Request, principal: Viewer, state: State) -> LiftOut:
    """End a lift now (its user or an admin), or refuse a pending one."""
    _visible_lift(state, principal, lift_id)
    with _refused():
        lift = lift_store(state).end(lift_id, principal)
    _audit(request, principal, "privacy.lift.end", lift)
    return _out(lift, state)


@router.get("/api/lifts", response_model=list[LiftOut])
def list_lifts(
    principal: Viewer,
    state: State,
    camera: str | None = None,
    since: Annotated[Timestamp | None, Query(description="requested at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[LiftOut]:
    """Lifts, newest first: an admin's of every camera they may see (pending ones to
    approve among them), anyone else's own."""
    mine = None if principal.at_least("admin") else principal.username
    lifts = lift_store(state).lifts(camera=camera, username=mine, since=since, limit=limit)
    return [_out(lift, state) for lift in lifts if principal.can_see(lift.camera)]
