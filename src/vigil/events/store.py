"""`EventStore`: events in Vigil's SQL database (`vigil.db.Database`).

The table holds one row per event id: a long-lived event's `start` inserts the row and its
`update`s and `end` update it (state, end time, attributes merged). In a cluster each row
names the node that wrote it, and a node's writes are fenced by its camera leases
(`vigil.db.fencing`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import BigInteger, ColumnElement, Select, case, delete, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from vigil.db.database import Database, delete_in_batches, in_chunks
from vigil.db.engine import one_line_error
from vigil.db.fencing import split_fenced
from vigil.db.schema import EventRow, ReviewEventRow, ReviewItemRow, ReviewMarkRow, utcnow
from vigil.events.event import Event, EventState, json_value, valid_text
from vigil.events.review import ReviewSettings
from vigil.events.review_store import forget_deleted_events, record_events

__all__ = ["CrossingCount", "EventStore", "OccupancyBucket"]

_SPAN_PAGE = 10_000  # rows fetched at a time when streaming event spans
_log = logging.getLogger(__name__)
#: What one bad record raises on its way into the database.
_RECORD_ERRORS = (SQLAlchemyError, TypeError, ValueError, OverflowError, AttributeError)
_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


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


# --------------------------------------------------------------------------- rows


def _new_row(
    ev: Event, attributes: dict[str, Any] | None = None, node: str | None = None
) -> EventRow:
    """A new row; `attributes` replaces `ev.attributes` (e.g. already JSON-normalised)."""
    return EventRow(
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
        created_at=utcnow(),
        node=node,
    )


def _merge(row: EventRow, ev: Event, attributes: dict[str, Any] | None = None) -> None:
    """Apply a later record (`update`/`end`, or a repeat) of the same event id.

    State and end time follow the newer record, attributes are merged (newer keys win),
    descriptive fields take the newer value where it is set, and the start time is the
    earliest seen. A non-`end` record arriving after the `end` only fills empty fields.
    """
    late = row.state == "end" and ev.state != "end"
    new_attributes = ev.attributes if attributes is None else attributes
    for name in ("track_id", "class_id", "class_name", "zone", "line"):
        value = getattr(ev, name)
        if value is not None and (not late or getattr(row, name) is None):
            setattr(row, name, _text(value) if isinstance(value, str) else int(value))
    row.start_time = min(row.start_time, float(ev.start_time))
    if late:
        row.attributes = {**new_attributes, **(row.attributes or {})}
        return
    row.state = ev.state
    if ev.end_time is not None:
        row.end_time = float(ev.end_time)
    # A new dict (not in-place) so the ORM sees the change.
    row.attributes = {**(row.attributes or {}), **new_attributes}


def _to_event(row: EventRow) -> Event:
    """The event; a value stored before it was checked (NaN, a lone surrogate) comes out
    replaced as `json_value` does, a start time that is not finite as the row's creation
    time."""
    start = row.start_time
    if start is None or not math.isfinite(start):
        start = row.created_at.timestamp() if row.created_at else 0.0
    end = row.end_time
    return Event(
        source=_text(row.source),
        app=_text(row.app),
        type=_text(row.type),
        start_time=start,
        frame_index=row.frame_index,
        state=cast(EventState, row.state),
        end_time=end if end is None or math.isfinite(end) else None,
        track_id=row.track_id,
        class_id=row.class_id,
        class_name=_text(row.class_name),
        zone=_text(row.zone),
        line=_text(row.line),
        attributes=json_value(row.attributes or {}, replace_invalid=True),
        id=_text(row.id),
        node=row.node,
    )


def _checked(ev: Event) -> dict[str, Any]:
    """The event's attributes as stored (`json_value` with what strict JSON cannot hold
    replaced); ValueError naming the event for a time that is not finite, TypeError for an
    attribute set after the event was made that is not JSON."""
    for name in ("start_time", "end_time"):
        value = getattr(ev, name)
        if value is not None and not math.isfinite(float(value)):
            raise ValueError(f"event {ev.id} ({ev.app}/{ev.type}): {name} is {value}")
    try:
        return cast(dict[str, Any], json_value(ev.attributes, replace_invalid=True))
    except (TypeError, RecursionError) as err:
        raise TypeError(f"event {ev.id} ({ev.app}/{ev.type}): {err}") from None


def _text(value: Any) -> Any:
    """A string made `valid_text`; anything else as it is (the database judges it)."""
    return valid_text(value) if isinstance(value, str) else value


# --------------------------------------------------------------------------- store


class EventStore:
    """Events in the `Database` (which stays open: close it when done), and the review items
    they make (`vigil.events.review`, grouped as `review` says), kept in step with them."""

    def __init__(self, database: Database, review: ReviewSettings | None = None) -> None:
        self.database = database
        self.review = review or ReviewSettings()
        #: Records dropped because the database refused them (see `add`).
        self.rejected = 0

    def __repr__(self) -> str:
        return f"EventStore({str(self.database)!r})"

    # ---------------------------------------------------------------- writing

    def add(
        self,
        events: Iterable[Event],
        *,
        node: str | None = None,
        fence: Mapping[str, int] | None = None,
    ) -> list[Event]:
        """Store events in one transaction; returns the events refused by the fence.

        A record whose id is already stored (or earlier in the same call) updates that row,
        so a long-lived event's `start`, `update`s and `end` end up as one row. `node` (a
        cluster node's name; None on a single box) is stamped on the rows written. With
        `fence` (camera -> the lease epoch the caller runs it under), a record is stored
        only while its source camera's lease is at that epoch; the others are refused, in
        the same transaction, and returned (nothing of them is stored).

        One bad record (a value the database refuses, a time that is not finite, an
        attribute that is not JSON) does not cost the others: when the batch fails, its
        records are written one by one and only those that fail are dropped, counted in
        `rejected` and logged in one line per batch.
        """
        batch = list(events)
        if not batch:
            return []
        try:
            return self._write_batch(batch, node, fence)
        except OperationalError:
            raise  # the database, not a record, is the problem (down, locked, full)
        except _RECORD_ERRORS:
            pass
        refused: list[Event] = []
        errors = []
        for ev in batch:
            try:
                refused += self._write_batch([ev], node, fence)
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
        return refused

    def _write_batch(
        self, batch: Sequence[Event], node: str | None, fence: Mapping[str, int] | None
    ) -> list[Event]:
        """Write `batch` in one transaction; returns its records the fence refused."""
        records = [(ev, _checked(ev)) for ev in batch]  # fail before touching the db
        with self.database.write() as session:
            allowed, refused = split_fenced(session, records, lambda r: r[0].source, fence)
            rows: dict[str, EventRow] = {}
            ids = list(dict.fromkeys(ev.id for ev, _ in allowed))
            for chunk in in_chunks(ids):
                for found in session.scalars(select(EventRow).where(EventRow.id.in_(chunk))):
                    rows[found.id] = found
            for ev, attrs in allowed:
                row = rows.get(ev.id)
                if row is None:
                    row = rows[ev.id] = _new_row(ev, attrs, node)
                    session.add(row)
                else:
                    _merge(row, ev, attrs)
                    if node is not None:
                        row.node = node
            stored = [_to_event(rows[i]) for i in dict.fromkeys(ev.id for ev, _ in allowed)]
            record_events(session, stored, self.review)
        return [ev for ev, _ in refused]

    def delete_before(self, cutoff: float, batch: int = 5000, source: str | None = None) -> int:
        """Delete the events (of `source`, or of all) that started before `cutoff`, `batch`
        rows per transaction (so writers wait for one short delete, never for a whole
        backlog), and the review items left without events; returns how many."""
        older = EventRow.start_time < float(cutoff)
        if source is not None:
            older = older & (EventRow.source == source)
        deleted = delete_in_batches(self.database, EventRow.id, older, batch)
        if deleted:
            with self.database.write() as session:
                forget_deleted_events(session)
        return deleted

    def review_missing(self) -> bool:
        """Whether events that make review items are stored but no item is: a database
        whose events predate review items (migration 0008)."""
        reviewed = select(EventRow.id).where(EventRow.type.not_in(sorted(self.review.series)))
        items = select(ReviewItemRow.id)
        with self.database.read() as session:
            return bool(session.scalar(select(reviewed.exists() & ~items.exists())))

    def rebuild_review(self) -> None:
        """Group every stored event into review items afresh (reviewed marks go), a page of
        events per transaction, oldest first."""
        with self.database.write() as session:
            for table in (ReviewMarkRow, ReviewEventRow, ReviewItemRow):
                session.execute(delete(table))
        oldest_first = select(EventRow).order_by(EventRow.start_time, EventRow.id)
        done = 0
        while True:
            with self.database.write() as session:
                rows = list(session.scalars(oldest_first.offset(done).limit(_SPAN_PAGE)))
                record_events(session, [_to_event(row) for row in rows], self.review)
            done += len(rows)
            if len(rows) < _SPAN_PAGE:
                return

    # ---------------------------------------------------------------- reading

    def get(self, event_id: str) -> Event | None:
        """The event with this id, or None."""
        with self.database.read() as session:
            row = session.get(EventRow, event_id)
            return None if row is None else _to_event(row)

    def get_many(self, event_ids: Collection[str]) -> dict[str, Event]:
        """The events of these ids that exist, by id."""
        found: dict[str, Event] = {}
        with self.database.read() as session:
            for chunk in in_chunks(sorted(set(event_ids))):
                for row in session.scalars(select(EventRow).where(EventRow.id.in_(chunk))):
                    found[row.id] = _to_event(row)
        return found

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
        with self.database.read() as session:
            return [_to_event(row) for row in session.scalars(stmt)]

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
        with self.database.read() as session:
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
        with self.database.read() as session:
            first, last = session.execute(stmt).one()
        return None if first is None else (float(first), float(last))

    def crossing_counts(
        self, origin: float, interval: float, buckets: int, **filters: Any
    ) -> list[CrossingCount]:
        """``line_crossing`` events counted per bucket (``[origin + k * interval, ...)`` for
        k < `buckets`), source, app, line, class and ``direction`` attribute, in SQL."""
        bucket, in_range = self._bucket(origin, interval, buckets)
        direction: ColumnElement[Any] = EventRow.attributes["direction"].as_string()
        if self.database.backend == "sqlite":  # a row stored with NaN is not valid JSON
            direction = case((func.json_valid(EventRow.attributes), direction))
        keys = (EventRow.source, EventRow.app, EventRow.line, EventRow.class_name)
        stmt = (
            self._filtered_type("line_crossing", filters)
            .with_only_columns(*keys, direction.label("direction"), bucket, func.count())
            .where(in_range)
            .group_by(*keys, direction, bucket)
        )
        with self.database.read() as session:
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
        bucket, in_range = self._bucket(origin, interval, buckets)
        raw = EventRow.attributes["count"]
        if self.database.backend == "sqlite":
            is_number: ColumnElement[Any] = case(
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
        with self.database.read() as session:
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
        if self.database.backend == "sqlite":
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
        stmt = (
            select(EventRow.source, EventRow.start_time, EventRow.end_time)
            .where(EventRow.start_time >= float(since))
            .order_by(EventRow.source, EventRow.start_time)
            .execution_options(yield_per=_SPAN_PAGE)
        )
        with self.database.read() as session:
            for row in session.execute(stmt):
                yield row.source, row.start_time, row.end_time


def _filtered(
    stmt: _Query,
    source: str | None,
    sources: Collection[str] | None,
    app: str | None,
    type_: str | None,
    class_name: str | None,
    since: float | None,
    until: float | None,
) -> _Query:
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
