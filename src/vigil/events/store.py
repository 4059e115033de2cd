"""`EventStore`: events in a SQL database (SQLite by default) via SQLAlchemy 2.0.

The schema is owned by the Alembic migrations in ``vigil/events/migrations``, which the
store runs (``upgrade head``) when it opens a database that is not at `HEAD_REVISION`, so a
fresh file gets the schema and an old one is brought up to date. A database already at head
is opened without importing Alembic (most of the start-up time of a short `vigil run`).

The table holds one row per event id: a long-lived event's `start` inserts the row and its
`update`s and `end` update it (state, end time, attributes merged).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Double,
    Engine,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    case,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from vigil.errors import VigilError
from vigil.events.event import Event, EventState, json_default

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "Base",
    "CrossingCount",
    "EventRow",
    "EventStore",
    "EventStoreError",
    "HEAD_REVISION",
    "OccupancyBucket",
    "SUPPORTED_BACKENDS",
    "alembic_config",
    "check_database_url",
    "database_url",
    "one_line_error",
]

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
#: The newest migration's revision id (a test checks it against the migration scripts).
HEAD_REVISION = "0004"
#: SQLAlchemy backends the schema and the queries are tested on.
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")
#: PostgreSQL advisory lock held while migrating (any constant; "vigil" in ASCII).
_MIGRATION_LOCK_KEY = 0x766967696C
_IN_CHUNK = 500  # ids per `IN (...)`: well under SQLite's bound-parameter limit
_SPAN_PAGE = 10_000  # rows fetched at a time when streaming event spans
_log = logging.getLogger(__name__)
#: What one bad record raises on its way into the database.
_RECORD_ERRORS = (SQLAlchemyError, TypeError, ValueError, OverflowError, AttributeError)


class EventStoreError(VigilError):
    """The events database cannot be opened or migrated."""


# --------------------------------------------------------------------------- schema


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_utcnow)

    __table_args__ = (
        Index("ix_events_source_start_time", "source", "start_time"),
        Index("ix_events_type_source_start_time", "type", "source", "start_time"),
        Index("ix_events_start_time", "start_time"),
        Index("ix_events_app", "app"),
    )

    @classmethod
    def from_event(cls, ev: Event, attributes: dict[str, Any] | None = None) -> EventRow:
        """A new row; `attributes` replaces `ev.attributes` (e.g. already JSON-normalised)."""
        return cls(
            id=ev.id,
            source=_text(ev.source),
            app=_text(ev.app),
            type=_text(ev.type),
            state=ev.state,
            start_time=float(ev.start_time),
            end_time=None if ev.end_time is None else float(ev.end_time),
            frame_index=int(ev.frame_index),
            track_id=None if ev.track_id is None else int(ev.track_id),
            class_id=None if ev.class_id is None else int(ev.class_id),
            class_name=_text(ev.class_name),
            zone=_text(ev.zone),
            line=_text(ev.line),
            attributes=dict(ev.attributes if attributes is None else attributes),
            created_at=_utcnow(),
        )

    def merge(self, ev: Event, attributes: dict[str, Any] | None = None) -> None:
        """Apply a later record (`update`/`end`, or a repeat) of the same event id.

        State and end time follow the newer record, attributes are merged (newer keys win),
        descriptive fields take the newer value where it is set, and the start time is the
        earliest seen. A non-`end` record arriving after the `end` only fills empty fields.
        """
        late = self.state == "end" and ev.state != "end"
        new_attributes = ev.attributes if attributes is None else attributes
        for name in ("track_id", "class_id", "class_name", "zone", "line"):
            value = getattr(ev, name)
            if value is not None and (not late or getattr(self, name) is None):
                setattr(self, name, _text(value) if isinstance(value, str) else int(value))
        self.start_time = min(self.start_time, float(ev.start_time))
        if late:
            self.attributes = {**new_attributes, **(self.attributes or {})}
            return
        self.state = ev.state
        if ev.end_time is not None:
            self.end_time = float(ev.end_time)
        # A new dict (not in-place) so the ORM sees the change.
        self.attributes = {**(self.attributes or {}), **new_attributes}

    def to_event(self) -> Event:
        """The event; a value stored before it was checked (NaN, a lone surrogate) comes out
        as `storable` JSON, a start time that is not finite as the row's creation time."""
        start = self.start_time
        if start is None or not math.isfinite(start):
            start = self.created_at.timestamp() if self.created_at else 0.0
        end = self.end_time
        return Event(
            source=_text(self.source),
            app=_text(self.app),
            type=_text(self.type),
            start_time=start,
            frame_index=self.frame_index,
            state=cast(EventState, self.state),
            end_time=end if end is None or math.isfinite(end) else None,
            track_id=self.track_id,
            class_id=self.class_id,
            class_name=_text(self.class_name),
            zone=_text(self.zone),
            line=_text(self.line),
            attributes=storable(dict(self.attributes or {})),
            id=_text(self.id),
        )


@dataclass(frozen=True, slots=True)
class CrossingCount:
    """Line crossings of one bucket, source, app, line, class and direction."""

    source: str
    app: str
    line: str | None
    class_name: str | None
    direction: str
    bucket: int
    count: int


@dataclass(frozen=True, slots=True)
class OccupancyBucket:
    """The occupancy samples of one bucket, source, app and zone."""

    source: str
    app: str
    zone: str | None
    bucket: int
    samples: int
    max: int
    total: int
    last: int


# --------------------------------------------------------------------------- engine


def database_url(url: str | os.PathLike[str] | URL) -> URL:
    """A SQLAlchemy URL for `url`: a URL as given, a plain path (or ``:memory:``) -> SQLite.

    ``postgresql://`` without a driver means psycopg 3 (the `postgres` extra), not
    SQLAlchemy's default psycopg2, which Vigil does not install.
    """
    if isinstance(url, URL):
        parsed = url
    else:
        text = os.fspath(url)
        if "://" not in text:
            if text in ("", ":memory:"):
                return URL.create("sqlite")
            return URL.create("sqlite", database=str(Path(text).expanduser()))
        parsed = make_url(text)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def check_database_url(url: str | os.PathLike[str] | URL) -> URL:
    """`database_url(url)` for a database Vigil supports (SQLite, PostgreSQL) whose driver
    is installed; ValueError with one line (never the password) otherwise."""
    try:
        parsed = database_url(url)
    except (ArgumentError, ValueError) as err:
        raise ValueError(f"not a database URL: {one_line_error(err)}") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ValueError(
            f"unsupported database {backend!r}: use sqlite:///FILE or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError:
        driver = parsed.get_driver_name()
        hint = " (pip install 'vigil[postgres]')" if driver == "psycopg" else ""
        raise ValueError(f"{backend} driver {driver!r} is not installed{hint}") from None
    return parsed


def _is_sqlite_memory(url: URL) -> bool:
    db = url.database
    return db in (None, "", ":memory:") or url.query.get("mode") == "memory"


def alembic_config(url: str | os.PathLike[str] | URL | None = None) -> Config:
    """An Alembic `Config` for the events migrations, built in code (no alembic.ini)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        rendered = database_url(url).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def _json_attributes(ev: Event) -> dict[str, Any]:
    """`ev.attributes` as plain JSON values; TypeError/ValueError naming the event otherwise."""
    try:
        data = json.loads(json.dumps(ev.attributes, default=json_default))
    except (TypeError, ValueError) as err:
        raise type(err)(f"event {ev.id} ({ev.app}/{ev.type}): {err}") from None
    return cast(dict[str, Any], storable(data))


def storable(value: Any) -> Any:
    """A JSON value that every backend stores and every reader renders: text without lone
    surrogates (they become U+FFFD), NaN and infinities as null."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_text(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def _text(value: Any) -> Any:
    """A string without lone surrogates; anything else as it is (the database judges it)."""
    if not isinstance(value, str) or value.isascii():
        return value
    # A lone surrogate cannot be encoded as UTF-8: through UTF-16 it becomes U+FFFD (and a
    # split pair becomes the character it stands for).
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _checked(ev: Event) -> dict[str, Any]:
    """The event's attributes as stored (`storable` JSON); ValueError naming the event for a
    time that is not finite."""
    for name in ("start_time", "end_time"):
        value = getattr(ev, name)
        if value is not None and not math.isfinite(float(value)):
            raise ValueError(f"event {ev.id} ({ev.app}/{ev.type}): {name} is {value}")
    return _json_attributes(ev)


def one_line_error(err: BaseException) -> str:
    """The error as one line: the driver's message without SQLAlchemy's background link."""
    if isinstance(err, DBAPIError) and err.orig is not None:
        text = str(err.orig)
    else:
        text = str(err).split("\n(Background on this error", 1)[0]
    return " ".join(text.split()) or type(err).__name__


def _enable_wal(dbapi_connection: Any, patience: float = 30.0) -> None:
    """Switch the database file to WAL (persistent, so usually already on).

    Changing the journal mode fails at once with "database is locked" (no busy wait)
    while another connection is mid-transaction, e.g. a second process creating the schema
    of the same new file, so retry for a while.
    """
    deadline = time.monotonic() + patience
    cursor = dbapi_connection.cursor()
    try:
        while True:
            try:
                mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    cursor.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_engine_setup(engine: Engine, wal: bool) -> None:
    """WAL journal, and real transactions: pysqlite's own transaction handling neither
    covers DDL nor lets us `BEGIN IMMEDIATE`, so SQLAlchemy emits BEGIN itself (the
    recipe from the SQLAlchemy SQLite dialect docs). Writers begin IMMEDIATE so that
    concurrent writers queue on the busy timeout instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        if wal:
            _enable_wal(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("vigil_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# --------------------------------------------------------------------------- store


class EventStore:
    """Events in a SQL database.

    `url` is a SQLAlchemy URL (``sqlite:///events.db``, ``postgresql+psycopg://u:p@h/db``)
    or a plain file path (SQLite). Opening runs the migrations to the latest revision.
    Raises `EventStoreError` (one line) when the database cannot be opened or migrated.
    """

    def __init__(self, url: str | os.PathLike[str] | URL = "sqlite:///vigil.db") -> None:
        try:
            self.url = database_url(url)
        except (ArgumentError, ValueError) as err:
            shown = _PASSWORD_IN_URL.sub(r"\1***@", os.fspath(url))  # type: ignore[arg-type]
            raise EventStoreError(f"database {shown!r}: bad URL: {one_line_error(err)}") from None
        if self.url.get_backend_name() == "postgresql":
            try:
                check_database_url(self.url)  # a missing psycopg says how to get it
            except ValueError as err:
                raise EventStoreError(f"database {self}: {err}") from None
        self._closed = False
        #: Records dropped because the database refused them (see `add`).
        self.rejected = 0
        try:
            self._engine = self._create_engine(self.url)
        except (SQLAlchemyError, ImportError, OSError) as err:
            raise EventStoreError(f"database {self}: {one_line_error(err)}") from err
        self._read = sessionmaker(self._engine)
        self._write = sessionmaker(self._engine.execution_options(vigil_write=True))
        try:
            self._migrate()
        except (SQLAlchemyError, ImportError, OSError, EventStoreError) as err:
            self._engine.dispose()
            raise EventStoreError(f"database {self}: {one_line_error(err)}") from err

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for other tables of the same database (segments)."""
        return self._engine

    def __str__(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"EventStore({str(self)!r})"

    @staticmethod
    def _create_engine(url: URL) -> Engine:
        kwargs: dict[str, Any] = {}
        sqlite = url.get_backend_name() == "sqlite"
        memory = sqlite and _is_sqlite_memory(url)
        if memory:
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif sqlite:
            kwargs["connect_args"] = {"timeout": 30}
            db = url.database or ""
            if not db.startswith("file:"):
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        if not sqlite:
            # A server closes connections (restart, failover, idle timeout): check a pooled
            # connection before use rather than fail the next write with it.
            kwargs["pool_pre_ping"] = True
        engine = create_engine(url, **kwargs)
        if sqlite:
            _sqlite_engine_setup(engine, wal=not memory)
        return engine

    def _at_head(self) -> bool:
        """Whether the database's recorded revision is `HEAD_REVISION` (read, no lock)."""
        with self._engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            stored = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return stored.all() == [HEAD_REVISION]

    def _migrate(self) -> None:
        if self._at_head():
            return
        from alembic import command
        from alembic.util import CommandError

        with self._engine.execution_options(vigil_write=True).begin() as conn:
            if conn.dialect.name == "postgresql":
                # Several processes may open a new database at once (the service, a CLI
                # command): without a lock they race to create the same tables. SQLite's
                # BEGIN IMMEDIATE serialises them; here a transaction-scoped advisory lock
                # does (released at commit), and PostgreSQL's DDL is transactional, so the
                # next migrator finds the schema done.
                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            # Alembic narrates each plugin and migration (docstrings included) at INFO:
            # one line of ours says what happened instead.
            logging.getLogger("alembic").setLevel(logging.WARNING)
            try:
                command.upgrade(cfg, "head")
            except CommandError as err:  # e.g. a revision unknown here
                raise EventStoreError(f"{err} (written by a newer Vigil?)") from None
        _log.info("database schema brought up to revision %s", HEAD_REVISION)

    # ---------------------------------------------------------------- writing

    def add(self, events: Iterable[Event]) -> int:
        """Store events in one transaction; returns how many records were applied.

        A record whose id is already stored (or earlier in the same call) updates that row,
        so a long-lived event's `start`, `update`s and `end` end up as one row.

        One bad record (a value the database refuses, a time that is not finite, an
        attribute that is not JSON) does not cost the others: when the batch fails, its
        records are written one by one and only those that fail are dropped, counted in
        `rejected` and logged in one line per batch.
        """
        self._check_open()
        batch = list(events)
        if not batch:
            return 0
        try:
            self._write_batch(batch)
            return len(batch)
        except OperationalError:
            raise  # the database, not a record, is the problem (down, locked, full)
        except _RECORD_ERRORS:
            pass
        applied, errors = 0, []
        for ev in batch:
            try:
                self._write_batch([ev])
                applied += 1
            except OperationalError:
                raise
            except _RECORD_ERRORS as err:
                errors.append(f"{ev.id} ({ev.app}/{ev.type}): {one_line_error(err)}")
        if errors:
            self.rejected += len(errors)
            _log.error(
                "events: dropped %d of %d records the database refused; first: %s",
                len(errors),
                len(batch),
                errors[0],
            )
        return applied

    def _write_batch(self, batch: Sequence[Event]) -> None:
        records = [(ev, _checked(ev)) for ev in batch]  # fail before touching the db
        with self._write.begin() as session:
            rows: dict[str, EventRow] = {}
            ids = list(dict.fromkeys(ev.id for ev in batch))
            for chunk in _chunks(ids, _IN_CHUNK):
                for row in session.scalars(select(EventRow).where(EventRow.id.in_(chunk))):
                    rows[row.id] = row
            for ev, attrs in records:
                row = rows.get(ev.id)
                if row is None:
                    row = EventRow.from_event(ev, attrs)
                    session.add(row)
                    rows[ev.id] = row
                else:
                    row.merge(ev, attrs)

    def delete_before(self, cutoff: float, batch: int = 5000) -> int:
        """Delete the events that started before `cutoff`, `batch` rows per transaction (so
        writers wait for one short delete, never for a whole backlog); returns how many."""
        self._check_open()
        deleted = 0
        while True:
            ids = (
                select(EventRow.id)
                .where(EventRow.start_time < float(cutoff))
                .limit(batch)
                .scalar_subquery()
            )
            with self._write.begin() as session:
                result = session.execute(delete(EventRow).where(EventRow.id.in_(ids)))
                count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < batch:
                return deleted

    # ---------------------------------------------------------------- reading

    def get(self, event_id: str) -> Event | None:
        """The event with this id, or None."""
        self._check_open()
        with self._read() as session:
            row = session.get(EventRow, event_id)
            return None if row is None else row.to_event()

    def query(
        self,
        source: str | None = None,
        app: str | None = None,
        type: str | None = None,  # noqa: A002 - mirrors Event.type
        class_name: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = 100,
        offset: int = 0,
        *,
        sources: Collection[str] | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        """Events matching every given filter, ordered by start time (then id).

        `since`/`until` bound the event's `start_time` (seconds on the source timeline):
        ``since <= start_time < until``. `sources` (None: any) keeps the events of those
        sources only, e.g. the cameras a user may see; with `source` both must hold.
        `limit` None returns all matches.
        """
        self._check_open()
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        stmt = _filtered(select(EventRow), source, sources, app, type, class_name, since, until)
        if newest_first:
            stmt = stmt.order_by(EventRow.start_time.desc(), EventRow.id.desc())
        else:
            stmt = stmt.order_by(EventRow.start_time, EventRow.id)
        stmt = stmt.offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._read() as session:
            return [row.to_event() for row in session.scalars(stmt)]

    def count(
        self,
        source: str | None = None,
        app: str | None = None,
        type: str | None = None,  # noqa: A002
        class_name: str | None = None,
        since: float | None = None,
        until: float | None = None,
        *,
        sources: Collection[str] | None = None,
    ) -> int:
        """How many events `query` with the same filters would return without a limit."""
        self._check_open()
        stmt = _filtered(
            select(func.count()).select_from(EventRow),
            source,
            sources,
            app,
            type,
            class_name,
            since,
            until,
        )
        with self._read() as session:
            return int(session.scalar(stmt) or 0)

    def time_range(
        self,
        types: Collection[str],
        source: str | None = None,
        app: str | None = None,
        since: float | None = None,
        until: float | None = None,
        *,
        sources: Collection[str] | None = None,
    ) -> tuple[float, float] | None:
        """(earliest, latest) start time of the events of these types matching the filters
        (as in `query`), or None when there are none."""
        self._check_open()
        stmt = _filtered(
            select(func.min(EventRow.start_time), func.max(EventRow.start_time)),
            source,
            sources,
            app,
            None,
            None,
            since,
            until,
        ).where(EventRow.type.in_(sorted(set(types))))
        with self._read() as session:
            first, last = session.execute(stmt).one()
        return None if first is None else (float(first), float(last))

    def crossing_counts(
        self, origin: float, interval: float, buckets: int, **filters: Any
    ) -> list[CrossingCount]:
        """``line_crossing`` events counted per bucket (``[origin + k * interval, ...)`` for
        k < `buckets`), source, app, line, class and ``direction`` attribute, in SQL."""
        self._check_open()
        bucket, in_range = self._bucket(origin, interval, buckets)
        direction = EventRow.attributes["direction"].as_string()
        if self._engine.dialect.name == "sqlite":  # a row stored with NaN is not valid JSON
            direction = case((func.json_valid(EventRow.attributes), direction))
        keys = (EventRow.source, EventRow.app, EventRow.line, EventRow.class_name)
        stmt = (
            self._filtered_type("line_crossing", filters)
            .with_only_columns(*keys, direction.label("direction"), bucket, func.count())
            .where(in_range)
            .group_by(*keys, direction, bucket)
        )
        with self._read() as session:
            return [
                CrossingCount(src, app, line, cls, str(d) if d else "unknown", int(b), int(n))
                for src, app, line, cls, d, b, n in session.execute(stmt)
            ]

    def occupancy_buckets(
        self, origin: float, interval: float, buckets: int, **filters: Any
    ) -> list[OccupancyBucket]:
        """``occupancy`` samples (their numeric ``count`` attribute, truncated to an
        integer) summarised per bucket, source, app and zone, in SQL: how many, the largest,
        the sum and the latest (by start time, then id)."""
        self._check_open()
        bucket, in_range = self._bucket(origin, interval, buckets)
        raw = EventRow.attributes["count"]
        if self._engine.dialect.name == "sqlite":
            is_number = case(
                (
                    func.json_valid(EventRow.attributes),
                    func.json_type(EventRow.attributes, "$.count").in_(("integer", "real")),
                ),
                else_=False,
            )
            value = sql_cast(raw.as_float(), BigInteger)  # CAST truncates towards zero
        else:
            is_number = func.jsonb_typeof(raw) == "number"
            value = sql_cast(func.trunc(raw.as_float()), BigInteger)
        keys = (EventRow.source, EventRow.app, EventRow.zone)
        newest = func.row_number().over(
            partition_by=(*keys, bucket),
            order_by=(EventRow.start_time.desc(), EventRow.id.desc()),
        )
        samples = (
            self._filtered_type("occupancy", filters)
            .with_only_columns(
                *keys, bucket.label("bucket"), value.label("value"), newest.label("newest")
            )
            .where(in_range, is_number)
            .subquery()
        )
        grouped = (samples.c.source, samples.c.app, samples.c.zone, samples.c.bucket)
        stmt = select(
            *grouped,
            func.count(),
            func.max(samples.c.value),
            func.sum(samples.c.value),
            func.max(case((samples.c.newest == 1, samples.c.value))),
        ).group_by(*grouped)
        with self._read() as session:
            return [
                OccupancyBucket(src, app, zone, int(b), int(n), int(top), int(total), int(last))
                for src, app, zone, b, n, top, total, last in session.execute(stmt)
            ]

    def _filtered_type(self, type_: str, filters: dict[str, Any]) -> Select[Any]:
        return _filtered(
            select(EventRow.id),
            filters.get("source"),
            filters.get("sources"),
            filters.get("app"),
            type_,
            None,
            filters.get("since"),
            filters.get("until"),
        )

    def _bucket(self, origin: float, interval: float, buckets: int) -> tuple[Any, Any]:
        """The bucket index of an event's start time, and the condition that it is one of
        the `buckets` (then the offset is >= 0, so truncating is flooring)."""
        offset = (EventRow.start_time - float(origin)) / float(interval)
        if self._engine.dialect.name == "sqlite":
            bucket = sql_cast(offset, BigInteger)
        else:
            bucket = sql_cast(func.floor(offset), BigInteger)
        in_range = (EventRow.start_time >= float(origin)) & (
            EventRow.start_time < float(origin) + float(interval) * buckets
        )
        return bucket.label("bucket"), in_range

    def spans(self, since: float) -> Iterator[tuple[str, float, float | None]]:
        """(source, start_time, end_time) of the events that started at or after `since`,
        per source in start order, streamed in pages (bounded memory for any backlog)."""
        self._check_open()
        stmt = (
            select(EventRow.source, EventRow.start_time, EventRow.end_time)
            .where(EventRow.start_time >= float(since))
            .order_by(EventRow.source, EventRow.start_time)
            .execution_options(yield_per=_SPAN_PAGE)
        )
        with self._read() as session:
            for row in session.execute(stmt):
                yield row.source, row.start_time, row.end_time

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise EventStoreError(f"database {self}: the store is closed")


def _filtered(
    stmt: Select[Any],
    source: str | None,
    sources: Collection[str] | None,
    app: str | None,
    type_: str | None,
    class_name: str | None,
    since: float | None,
    until: float | None,
) -> Select[Any]:
    if source is not None:
        stmt = stmt.where(EventRow.source == source)
    if isinstance(sources, str):
        raise TypeError("sources must be a collection of source names, not one string")
    if sources is not None:
        # An empty collection matches nothing; sorted so equal filters give equal SQL.
        stmt = stmt.where(EventRow.source.in_(sorted(set(sources))))
    if app is not None:
        stmt = stmt.where(EventRow.app == app)
    if type_ is not None:
        stmt = stmt.where(EventRow.type == type_)
    if class_name is not None:
        stmt = stmt.where(EventRow.class_name == class_name)
    if since is not None:
        stmt = stmt.where(EventRow.start_time >= float(since))
    if until is not None:
        stmt = stmt.where(EventRow.start_time < float(until))
    return stmt


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
