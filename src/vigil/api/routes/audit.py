"""``GET /api/audit`` (admin): the audit log, newest first."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request

from vigil.api.deps import Admin
from vigil.api.schemas import AUTH_ERRORS, AuditOut, AuditPage
from vigil.auth.policy import auth_store

__all__ = ["router"]

router = APIRouter(tags=["auth"])


@router.get("/api/audit", response_model=AuditPage, responses=AUTH_ERRORS)
def audit_log(
    request: Request,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    user: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    """Logins, failed logins, playback, exports, config and user changes, newest first."""
    total, entries = auth_store(request).audit_log(
        limit=limit, offset=offset, user=user, action=action
    )
    return AuditPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[AuditOut(**asdict(e)) for e in entries],
    )
