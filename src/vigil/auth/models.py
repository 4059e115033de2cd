"""The auth tables (users, sessions, API tokens, audit log) in the events database.

They share `vigil.events.store.Base`, so the schema is owned by the same Alembic
migrations (revision 0003). Times are seconds since the epoch, like the rest of the API.
Secrets are never stored: a session row is keyed by the SHA-256 of its cookie value, a
token row holds the SHA-256 of the token, a user row an argon2 hash of the password.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Double, Index, Integer, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from vigil.events.store import Base

__all__ = ["ApiTokenRow", "AuditRow", "SessionRow", "UserRow"]

_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    cameras: Mapped[list[str] | None] = mapped_column(_JSON, nullable=True)
    """Camera ids the user may see; NULL: every camera."""
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)

    __table_args__ = (Index("ix_users_username", "username", unique=True),)


class SessionRow(Base):
    """A browser session (cookie `vigil_session`)."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the cookie value."""
    username: Mapped[str] = mapped_column(String(64))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Double)
    last_seen: Mapped[float] = mapped_column(Double)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_auth_sessions_username", "username"),)


class ApiTokenRow(Base):
    """A machine's API token (`Authorization: Bearer ...`), acting as its user."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Double)
    last_used: Mapped[float | None] = mapped_column(Double, nullable=True)

    __table_args__ = (
        Index("ix_api_tokens_token_hash", "token_hash", unique=True),
        Index("ix_api_tokens_username", "username"),
    )


class AuditRow(Base):
    """Who did what, when and from where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[float] = mapped_column(Double)
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(_JSON)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ix_audit_log_time", "time"),
        Index("ix_audit_log_username", "username"),
        Index("ix_audit_log_action", "action"),
    )
