"""The ORM rows of Vigil's database, all in one `Base` (as Home Assistant's recorder keeps
its ``db_schema.py``): events, recording segments, the accounts, login rate limits, and for
a cluster the camera leases and the apps' saved state.

The schema itself is owned by the Alembic migrations (``vigil/db/migrations``); a test checks
that they and these models agree. Event and segment times are seconds (the source's
timeline for events, wall clock for segments); auth times are seconds since the epoch.
A lease's epoch is the fencing token of the node running the camera: events, segments and
app state written under an older epoch are refused (`vigil.db.fencing`). Secrets are never
stored: a session row is keyed by the SHA-256 of its cookie value, a token
row holds the SHA-256 of the token, a user row an argon2 hash of the password.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ApiTokenRow",
    "AppStateRow",
    "AuditRow",
    "Base",
    "DisplayTokenRow",
    "EventRow",
    "LeaseRow",
    "LiftRow",
    "LoginAddressRow",
    "LoginFailureRow",
    "ReviewEventRow",
    "ReviewItemRow",
    "ReviewMarkRow",
    "SegmentRow",
    "SessionRow",
    "TrackRow",
    "UTCDateTime",
    "UserRow",
    "utcnow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- events


class EventRow(Base):
    """One event (all states of a long-lived event share the row)."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(255))
    app: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[float] = mapped_column(Double)
    end_time: Mapped[float | None] = mapped_column(Double)
    frame_index: Mapped[int] = mapped_column(BigInteger)
    """Frame of the first record stored for this event (its `start`)."""
    track_id: Mapped[int | None] = mapped_column(BigInteger)
    class_id: Mapped[int | None] = mapped_column(Integer)
    class_name: Mapped[str | None] = mapped_column(String(128))
    zone: Mapped[str | None] = mapped_column(String(255))
    line: Mapped[str | None] = mapped_column(String(255))
    attributes: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """The cluster node that stored it; NULL on a single box."""

    __table_args__ = (
        Index("ix_events_source_start_time", "source", "start_time"),
        Index("ix_events_type_source_start_time", "type", "source", "start_time"),
        Index("ix_events_start_time", "start_time"),
        Index("ix_events_app", "app"),
    )


class TrackRow(Base):
    """The summary of one finished track, for forensic search (`vigil.forensics`): its class,
    first and last time, the bounding box of its path (normalised 0..1, the spatial
    prefilter), the path itself, the zones it visited and lines it crossed, its longest dwell
    and top speed."""

    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(255))
    track_id: Mapped[int] = mapped_column(BigInteger)
    class_name: Mapped[str] = mapped_column(String(128))
    first_time: Mapped[float] = mapped_column(Double)
    last_time: Mapped[float] = mapped_column(Double)
    min_x: Mapped[float] = mapped_column(Double)
    min_y: Mapped[float] = mapped_column(Double)
    max_x: Mapped[float] = mapped_column(Double)
    max_y: Mapped[float] = mapped_column(Double)
    path: Mapped[bytes] = mapped_column(LargeBinary)
    """float32 rows (seconds after `first_time`, x, y), x and y normalised to the frame."""
    zones: Mapped[dict[str, Any]] = mapped_column(_JSON, default=dict)
    """Zone name -> seconds inside it."""
    lines: Mapped[list[Any]] = mapped_column(_JSON, default=list)
    """``[line name, "in" | "out", seconds after first_time]`` per crossing."""
    dwell: Mapped[float] = mapped_column(Double)
    """The longest time spent in one zone (its whole duration when no zone is defined)."""
    speed_kmh: Mapped[float | None] = mapped_column(Double, nullable=True)
    """Top ground speed (a calibrated zone needed); NULL when unknown."""
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    crop: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """A small JPEG of the object where it looked largest (unmasked; served masked)."""
    crop_box: Mapped[list[int] | None] = mapped_column(_JSON, nullable=True)
    """Where the crop was cut: x1, y1, x2, y2 in the frame, and the frame's width and height."""

    __table_args__ = (
        Index("ix_tracks_source_first_time", "source", "first_time"),
        Index("ix_tracks_first_time", "first_time"),
        # the analytics screen reads the summaries stored (ended) since its last call
        Index("ix_tracks_source_last_time", "source", "last_time"),
    )


# --------------------------------------------------------------------------- review


class ReviewItemRow(Base):
    """A review item: a camera's overlapping events (`vigil.events.review`), kept up to date
    as they are stored. The name lists are what the page shows; filters use the events."""

    __tablename__ = "review_items"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(255))
    start_time: Mapped[float] = mapped_column(Double)
    end_time: Mapped[float] = mapped_column(Double)
    severity: Mapped[str] = mapped_column(String(16))
    apps: Mapped[list[str]] = mapped_column(_JSON, default=list)
    types: Mapped[list[str]] = mapped_column(_JSON, default=list)
    classes: Mapped[list[str]] = mapped_column(_JSON, default=list)
    zones: Mapped[list[str]] = mapped_column(_JSON, default=list)
    event_count: Mapped[int] = mapped_column(Integer)
    thumbnail: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The id of the event whose object picture stands for the item."""

    __table_args__ = (
        Index("ix_review_items_start_time", "start_time"),
        Index("ix_review_items_source_start_time", "source", "start_time"),
        Index("ix_review_items_severity_start_time", "severity", "start_time"),
    )


class ReviewEventRow(Base):
    """Which item an event belongs to (one each; periodic reports: none)."""

    __tablename__ = "review_item_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_review_item_events_item_id", "item_id"),)


class ReviewMarkRow(Base):
    """A user marked an item reviewed."""

    __tablename__ = "review_marks"

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    time: Mapped[float] = mapped_column(Double)

    __table_args__ = (Index("ix_review_marks_username", "username"),)


# --------------------------------------------------------------------------- recordings


class SegmentRow(Base):
    """One finished recording segment (an MP4 file)."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1024))
    start_time: Mapped[float] = mapped_column(Double)
    end_time: Mapped[float] = mapped_column(Double)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    motion: Mapped[bool] = mapped_column(Boolean, default=False)
    objects: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """The cluster node whose disk holds the file; NULL on a single box."""

    __table_args__ = (
        Index("ix_segments_camera_start_time", "camera", "start_time"),
        Index("ix_segments_start_time", "start_time"),
        Index("ix_segments_path", "path", unique=True),
        Index("ix_segments_node_start_time", "node", "start_time"),
    )


# --------------------------------------------------------------------------- cluster


class LeaseRow(Base):
    """Which node runs a camera, under which epoch (the fencing token)."""

    __tablename__ = "camera_leases"

    camera: Mapped[str] = mapped_column(String(255), primary_key=True)
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """NULL: revoked (the row stays so that a camera added again continues its epochs)."""
    epoch: Mapped[int] = mapped_column(BigInteger)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    renewed: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_camera_leases_node", "node"),)


class AppStateRow(Base):
    """The state an app saved for a camera (restored when the camera starts again)."""

    __tablename__ = "app_states"

    camera: Mapped[str] = mapped_column(String(255), primary_key=True)
    app: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(_JSON)
    epoch: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The lease epoch it was saved under; NULL on a single box."""
    updated: Mapped[datetime] = mapped_column(UTCDateTime)


# --------------------------------------------------------------------------- accounts


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    cameras: Mapped[list[str] | None] = mapped_column(_JSON, nullable=True)
    """Camera ids the user may see; NULL: every camera."""
    unmask: Mapped[list[str] | None] = mapped_column(_JSON, nullable=True)
    """Camera ids whose privacy masks the user may lift (``*``: every camera); NULL: none."""
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
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)  # None: before 0007

    __table_args__ = (
        Index("ix_api_tokens_token_hash", "token_hash", unique=True),
        Index("ix_api_tokens_username", "username"),
    )


class DisplayTokenRow(Base):
    """A read-only *display token* (`vigil.kiosk.tokens`): it opens only the analytics screen
    (``/kiosk``) and its data, for the cameras it names. Not a user and not an API token:
    every other route refuses it."""

    __tablename__ = "display_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of the token."""
    cameras: Mapped[list[str] | None] = mapped_column(_JSON, nullable=True)
    """Camera ids the screen shows; NULL: every camera."""
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = mapped_column(Double)
    last_used: Mapped[float | None] = mapped_column(Double, nullable=True)

    __table_args__ = (
        Index("ix_display_tokens_name", "name", unique=True),
        Index("ix_display_tokens_token_hash", "token_hash", unique=True),
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


class LiftRow(Base):
    """A lifted privacy mask: one user sees one camera unmasked for a while, with a reason
    (pending until another admin approves it, on a camera that asks for four eyes)."""

    __tablename__ = "privacy_lifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(255))
    username: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(1000))
    minutes: Mapped[float] = mapped_column(Double)
    requested_at: Mapped[float] = mapped_column(Double)
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    starts_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    """When it took effect (NULL: pending approval)."""
    expires_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    """Ended early (by its user or an admin) or refused while pending."""
    ended_by: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ix_privacy_lifts_camera_username", "camera", "username"),
        Index("ix_privacy_lifts_requested_at", "requested_at"),
    )


class LoginFailureRow(Base):
    """A counted password guess under one limit (`vigil.auth.ratelimit`): per address
    (`username` empty), per user name and address, or per user name (`address` empty)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(64))
    time: Mapped[float] = mapped_column(Double)
    """Wall clock, seconds since the epoch (shared by every API replica)."""

    __table_args__ = (
        Index(
            "ix_login_failures_scope_username_address_time", "scope", "username", "address", "time"
        ),
        Index("ix_login_failures_time", "time"),
    )


class LoginAddressRow(Base):
    """An address a user has logged in from (spared the per-name limit)."""

    __tablename__ = "login_addresses"

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    time: Mapped[float] = mapped_column(Double)
