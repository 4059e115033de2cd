"""Review items in the database: kept up to date in the transaction that stores their events
(`record_events`, called by `EventStore.add`), read and marked through `ReviewStore`.

Filters by app, zone, class and type look at the item's events (``review_item_events`` joined
with ``events``), so an item is found by any of them; a reviewed mark is per user.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from vigil.db.database import Database, in_chunks, upsert
from vigil.db.schema import EventRow, ReviewEventRow, ReviewItemRow, ReviewMarkRow
from vigil.events.event import Event
from vigil.events.review import ReviewItem, ReviewSettings, Severity, place_event

__all__ = [
    "ReviewFacets",
    "ReviewFilters",
    "ReviewPage",
    "ReviewStore",
    "ReviewedItem",
    "forget_deleted_events",
    "record_events",
]


# --------------------------------------------------------------------------- writing


def _item(row: ReviewItemRow, event_ids: list[str]) -> ReviewItem:
    return ReviewItem(
        source=row.source,
        start=row.start_time,
        end=row.end_time,
        severity="alert" if row.severity == "alert" else "detection",
        apps=set(row.apps or ()),
        types=set(row.types or ()),
        classes=set(row.classes or ()),
        zones=set(row.zones or ()),
        event_ids=event_ids,
        thumbnail=row.thumbnail,
        id=row.id,
    )


def _write(row: ReviewItemRow, item: ReviewItem) -> None:
    row.start_time, row.end_time, row.severity = item.start, item.end, item.severity
    row.apps, row.types = sorted(item.apps), sorted(item.types)
    row.classes, row.zones = sorted(item.classes), sorted(item.zones)
    row.event_count = len(item.event_ids)
    row.thumbnail = item.thumbnail


def record_events(session: Session, events: Sequence[Event], settings: ReviewSettings) -> None:
    """Place the stored `events` (each as its row now reads, a long-lived one's records
    merged) into review items, in `session` (the transaction that stores them)."""
    wanted = [e for e in events if e.type not in settings.series]
    if not wanted:
        return
    reach = settings.gap_seconds
    rows: dict[str, ReviewItemRow] = {}
    for source in {e.source for e in wanted}:
        own = [e for e in wanted if e.source == source]
        low = min(e.start_time for e in own) - reach
        high = max(max(e.start_time, e.end_time or e.start_time) for e in own) + reach
        near = select(ReviewItemRow).where(
            ReviewItemRow.source == source,
            ReviewItemRow.start_time <= high,
            ReviewItemRow.end_time >= low,
        )
        rows.update((row.id, row) for row in session.scalars(near))
    ids = [e.id for e in wanted]
    known: dict[str, str] = {}  # event id -> item id
    for chunk in in_chunks(ids):
        linked = select(ReviewEventRow).where(ReviewEventRow.event_id.in_(chunk))
        known.update((link.event_id, link.item_id) for link in session.scalars(linked))
    missing = sorted(set(known.values()) - rows.keys())
    for chunk in in_chunks(missing):
        chosen = select(ReviewItemRow).where(ReviewItemRow.id.in_(chunk))
        rows.update((row.id, row) for row in session.scalars(chosen))
    members: dict[str, list[str]] = {item_id: [] for item_id in rows}
    for chunk in in_chunks(list(rows)):
        linked = select(ReviewEventRow).where(ReviewEventRow.item_id.in_(chunk))
        for link in session.scalars(linked):
            members[link.item_id].append(link.event_id)
    items = {item_id: _item(row, members[item_id]) for item_id, row in rows.items()}
    gone: set[str] = set()
    for event in wanted:
        placed = place_event(event, list(items.values()), settings)
        if placed is None:
            continue
        for merged in placed.merged:
            gone.add(merged.id)
            del items[merged.id]
        items[placed.item.id] = placed.item
    for item_id in gone & rows.keys():
        session.delete(rows[item_id])
    stale = sorted(gone & rows.keys())
    for chunk in in_chunks(stale):
        session.execute(delete(ReviewMarkRow).where(ReviewMarkRow.item_id.in_(chunk)))
    for item in items.values():
        row = rows.get(item.id)
        if row is None:
            row = rows[item.id] = ReviewItemRow(id=item.id, source=item.source)
            session.add(row)
        _write(row, item)
    links: list[dict[str, str]] = [
        {"event_id": event_id, "item_id": item.id}
        for item in items.values()
        for event_id in item.event_ids
        if known.get(event_id, "") != item.id
    ]
    if links:
        for batch in in_chunks(links):
            upsert_links = upsert(session, ReviewEventRow).values(list(batch))
            session.execute(
                upsert_links.on_conflict_do_update(
                    index_elements=["event_id"], set_={"item_id": upsert_links.excluded.item_id}
                )
            )


def forget_deleted_events(session: Session) -> None:
    """Drop the links of deleted events, the items left without events, and their marks."""
    session.execute(
        delete(ReviewEventRow).where(~exists().where(EventRow.id == ReviewEventRow.event_id))
    )
    session.execute(
        delete(ReviewItemRow).where(~exists().where(ReviewEventRow.item_id == ReviewItemRow.id))
    )
    session.execute(
        delete(ReviewMarkRow).where(~exists().where(ReviewItemRow.id == ReviewMarkRow.item_id))
    )


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class ReviewFilters:
    """What `ReviewStore.page` keeps: every given filter must hold. `sources` (None: any)
    are the cameras the user may see; an item is in `since`..`until` when it overlaps it."""

    source: str | None = None
    sources: Collection[str] | None = None
    app: str | None = None
    zone: str | None = None
    class_name: str | None = None
    type: str | None = None
    severity: Severity | None = None
    since: float | None = None
    until: float | None = None
    reviewed: bool | None = None


@dataclass(frozen=True, slots=True)
class ReviewedItem:
    item: ReviewItem
    reviewed: bool


@dataclass(frozen=True, slots=True)
class ReviewPage:
    total: int
    items: list[ReviewedItem]


@dataclass(frozen=True, slots=True)
class ReviewFacets:
    """The values the filters can take, from the items that exist."""

    cameras: list[str]
    apps: list[str]
    zones: list[str]
    classes: list[str]
    types: list[str]
    severities: list[str]
    first: float | None
    last: float | None


class ReviewStore:
    """Review items and marks in the `Database` (which the caller closes)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def page(
        self, filters: ReviewFilters, username: str, limit: int = 50, offset: int = 0
    ) -> ReviewPage:
        """The items matching `filters`, newest first, with whether `username` marked them."""
        where = _conditions(filters, username)
        total_stmt = select(func.count()).select_from(ReviewItemRow).where(*where)
        stmt = (
            select(ReviewItemRow)
            .where(*where)
            .order_by(ReviewItemRow.start_time.desc(), ReviewItemRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        with self.database.read() as session:
            total = int(session.scalar(total_stmt) or 0)
            rows = list(session.scalars(stmt))
            ids = [row.id for row in rows]
            members: dict[str, list[tuple[float, str]]] = {item_id: [] for item_id in ids}
            marked: set[str] = set()
            if ids:
                links = select(
                    ReviewEventRow.item_id, EventRow.start_time, ReviewEventRow.event_id
                ).join(EventRow, EventRow.id == ReviewEventRow.event_id)
                for item_id, start, event_id in session.execute(
                    links.where(ReviewEventRow.item_id.in_(ids))
                ):
                    members[item_id].append((start, event_id))
                marked = set(
                    session.scalars(
                        select(ReviewMarkRow.item_id).where(
                            ReviewMarkRow.username == username, ReviewMarkRow.item_id.in_(ids)
                        )
                    )
                )
            items = [
                ReviewedItem(_item(row, [e for _, e in sorted(members[row.id])]), row.id in marked)
                for row in rows
            ]
        return ReviewPage(total, items)

    def get(self, item_id: str, username: str) -> ReviewedItem | None:
        with self.database.read() as session:
            row = session.get(ReviewItemRow, item_id)
            if row is None:
                return None
            events = session.execute(
                select(EventRow.start_time, ReviewEventRow.event_id)
                .join(EventRow, EventRow.id == ReviewEventRow.event_id)
                .where(ReviewEventRow.item_id == item_id)
            )
            mark = session.get(ReviewMarkRow, (item_id, username))
            return ReviewedItem(
                _item(row, [e for _, e in sorted((s, e) for s, e in events)]), mark is not None
            )

    def facets(self, sources: Collection[str] | None) -> ReviewFacets:
        """The cameras, apps, zones (and lines), classes and types of the items `sources`
        (None: any) hold, and their time range."""
        item_where: list[ColumnElement[bool]] = []
        event_where: list[ColumnElement[bool]] = []
        if sources is not None:
            item_where.append(ReviewItemRow.source.in_(sorted(set(sources))))
            event_where.append(EventRow.source.in_(sorted(set(sources))))
        # One pass over the reviewed events: their few distinct combinations.
        combinations = (
            select(EventRow.app, EventRow.type, EventRow.class_name, EventRow.zone, EventRow.line)
            .join(ReviewEventRow, ReviewEventRow.event_id == EventRow.id)
            .where(*event_where)
            .distinct()
        )
        span = (
            select(
                ReviewItemRow.source,
                func.min(ReviewItemRow.start_time),
                func.max(ReviewItemRow.end_time),
            )
            .where(*item_where)
            .group_by(ReviewItemRow.source)
        )
        with self.database.read() as session:
            rows = session.execute(combinations).all()
            spans = session.execute(span).all()

        def values(*columns: int) -> list[str]:
            return sorted({str(row[c]) for row in rows for c in columns if row[c] is not None})

        return ReviewFacets(
            cameras=sorted(source for source, _, _ in spans),
            apps=values(0),
            zones=values(3, 4),
            classes=values(2),
            types=values(1),
            severities=["alert", "detection"],
            first=min((first for _, first, _ in spans), default=None),
            last=max((last for _, _, last in spans), default=None),
        )

    def mark(self, item_id: str, username: str, reviewed: bool) -> None:
        """Mark the item reviewed by `username` (or not any more)."""
        with self.database.write() as session:
            if not reviewed:
                session.execute(
                    delete(ReviewMarkRow).where(
                        ReviewMarkRow.item_id == item_id, ReviewMarkRow.username == username
                    )
                )
                return
            statement = upsert(session, ReviewMarkRow).values(
                item_id=item_id, username=username, time=time.time()
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["item_id", "username"], set_={"time": statement.excluded.time}
                )
            )

    def item_of(self, event_id: str) -> str | None:
        """The id of the item an event belongs to (None: a periodic report, or unknown)."""
        with self.database.read() as session:
            link = session.get(ReviewEventRow, event_id)
            return None if link is None else link.item_id


def _conditions(filters: ReviewFilters, username: str) -> list[ColumnElement[bool]]:
    item = ReviewItemRow
    where: list[ColumnElement[bool]] = []
    if filters.source is not None:
        where.append(item.source == filters.source)
    if filters.sources is not None:
        where.append(item.source.in_(sorted(set(filters.sources))))
    if filters.severity is not None:
        where.append(item.severity == filters.severity)
    if filters.since is not None:
        where.append(item.end_time >= float(filters.since))
    if filters.until is not None:
        where.append(item.start_time < float(filters.until))
    by_event: list[ColumnElement[bool]] = []
    if filters.app is not None:
        by_event.append(EventRow.app == filters.app)
    if filters.zone is not None:
        by_event.append(or_(EventRow.zone == filters.zone, EventRow.line == filters.zone))
    if filters.class_name is not None:
        by_event.append(EventRow.class_name == filters.class_name)
    if filters.type is not None:
        by_event.append(EventRow.type == filters.type)
    if by_event:
        where.append(
            exists()
            .where(ReviewEventRow.item_id == item.id, EventRow.id == ReviewEventRow.event_id)
            .where(*by_event)
        )
    if filters.reviewed is not None:
        mark = exists().where(ReviewMarkRow.item_id == item.id, ReviewMarkRow.username == username)
        where.append(mark if filters.reviewed else ~mark)
    return where
