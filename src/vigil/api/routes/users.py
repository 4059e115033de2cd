"""Users and their API tokens: add, list and revoke one or all (admin only, audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from vigil.api.deps import Admin
from vigil.api.routes.auth import camera_list, user_error
from vigil.api.schemas import (
    AUTH_ERRORS,
    RevokedOut,
    TokenIn,
    TokenInfoOut,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
)
from vigil.auth.policy import audit, auth_store
from vigil.auth.store import AuthError, User

__all__ = ["router"]

router = APIRouter(tags=["auth"])


def _user_out(user: User) -> UserOut:
    return UserOut(
        username=user.username,
        role=user.role,
        cameras=camera_list(user.cameras),
        unmask=sorted(user.unmask),
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


@router.get("/api/users", response_model=list[UserOut], responses=AUTH_ERRORS)
def list_users(request: Request, _: Admin) -> list[UserOut]:
    """Every user with their role and cameras."""
    return [_user_out(u) for u in auth_store(request).users()]


@router.post("/api/users", response_model=UserOut, status_code=201, responses=AUTH_ERRORS)
def add_user(body: UserIn, request: Request, principal: Admin) -> UserOut:
    """A new user."""
    try:
        user = auth_store(request).add_user(body.username, body.password, body.role, body.cameras)
    except (ValueError, AuthError) as err:
        raise user_error(err) from None
    audit(
        request,
        principal,
        "user.add",
        user.username,
        {"role": user.role, "cameras": camera_list(user.cameras)},
    )
    return _user_out(user)


@router.patch("/api/users/{username}", response_model=UserOut, responses=AUTH_ERRORS)
def update_user(
    username: str,
    body: UserPatch,
    request: Request,
    principal: Admin,
) -> UserOut:
    """Change a user's role, cameras or password (a new role or password ends their
    sessions)."""
    given = body.model_fields_set
    try:
        user = auth_store(request).update_user(
            username,
            role=body.role if "role" in given else None,
            cameras=body.cameras if "cameras" in given else None,
            all_cameras="cameras" in given and body.cameras is None,
            password=body.password if "password" in given else None,
            unmask=(body.unmask or []) if "unmask" in given else None,
        )
    except (ValueError, AuthError) as err:
        raise user_error(err) from None
    detail: dict[str, Any] = {}
    if "role" in given:
        detail["role"] = user.role
    if "cameras" in given:
        detail["cameras"] = camera_list(user.cameras)
    if "password" in given:
        detail["password"] = "changed"
    if "unmask" in given:
        detail["unmask"] = sorted(user.unmask)
    audit(request, principal, "user.update", username, detail)
    return _user_out(user)


@router.delete("/api/users/{username}", status_code=204, responses=AUTH_ERRORS)
def remove_user(username: str, request: Request, principal: Admin) -> Response:
    """Delete a user with their sessions and API tokens (never the last admin)."""
    try:
        auth_store(request).remove_user(username)
    except AuthError as err:
        raise user_error(err) from None
    audit(request, principal, "user.remove", username)
    return Response(status_code=204)


@router.post(
    "/api/users/{username}/tokens", response_model=TokenOut, status_code=201, responses=AUTH_ERRORS
)
def create_token(
    username: str, request: Request, principal: Admin, body: TokenIn | None = None
) -> TokenOut:
    """A new API token acting as the user (``Authorization: Bearer <token>``), named after
    what will use it (unique among the user's tokens: 409 otherwise)."""
    name = None if body is None else body.name
    try:
        token = auth_store(request).create_token(username, name)
    except (ValueError, AuthError) as err:
        raise user_error(err) from None
    audit(request, principal, "token.create", username, {"name": name} if name else None)
    return TokenOut(token=token, name=name.strip() if name else None)


@router.get(
    "/api/users/{username}/tokens", response_model=list[TokenInfoOut], responses=AUTH_ERRORS
)
def list_tokens(username: str, request: Request, _: Admin) -> list[TokenInfoOut]:
    """The user's API tokens (name, created, last use), oldest first; never their values."""
    try:
        tokens = auth_store(request).tokens(username)
    except AuthError as err:
        raise user_error(err) from None
    return [
        TokenInfoOut(id=t.id, name=t.name, created_at=t.created_at, last_used=t.last_used)
        for t in tokens
    ]


@router.delete("/api/users/{username}/tokens/{token_id}", status_code=204, responses=AUTH_ERRORS)
def revoke_token(username: str, token_id: int, request: Request, principal: Admin) -> Response:
    """Revoke one API token of the user (404 when the user has no such token)."""
    try:
        revoked = auth_store(request).revoke_token(username, token_id)
    except AuthError as err:
        raise user_error(err) from None
    detail = {"token": revoked.name or f"#{revoked.id}"}
    audit(request, principal, "token.revoke", username, detail)
    return Response(status_code=204)


@router.delete("/api/users/{username}/tokens", response_model=RevokedOut, responses=AUTH_ERRORS)
def revoke_tokens(username: str, request: Request, principal: Admin) -> RevokedOut:
    """Revoke every API token of the user."""
    try:
        revoked = auth_store(request).revoke_tokens(username)
    except AuthError as err:
        raise user_error(err) from None
    audit(request, principal, "token.revoke", username, {"revoked": revoked})
    return RevokedOut(revoked=revoked)
