"""``GET /api/review``: review items (a camera's overlapping events, `vigil.events.review`),
newest first, filtered and a page at a time; ``GET /api/review/facets``: the values the
filters can take; ``POST``/``DELETE /api/review/{item_id}/reviewed``: the user's mark.

Like ``/api/events``, a camera-restricted user sees the items of their cameras only (another
camera's item is not there: 404). Raw events stay at ``/api/events``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from vigil.api.deps import Events, Files, State, Viewer, url_for
from vigil.api.routes.events import crop_url
from vigil.api.schemas import ERROR_RESPONSES, Timestamp
from vigil.auth import Principal
from vigil.events.review_store import ReviewedItem, ReviewFacets, ReviewFilters, ReviewStore
from vigil.events.store import EventStore

__all__ = ["router"]

THUMBNAILS = 6  # object crops shown per item
router = APIRouter(tags=["review"], responses=ERROR_RESPONSES)


class ReviewItemOut(BaseModel):
    id: str
    camera: str
    start: float = Field(description="Start of its first event (seconds since the epoch).")
    end: float = Field(description="End of its last event.")
    severity: Literal["alert", "detection"]
    apps: list[str]
    types: list[str]
    classes: list[str]
    zones: list[str] = Field(description="Zones and lines its events name.")
    event_count: int
    events: list[str] = Field(description="Its events' ids, in start order.")
    thumbnail: str | None = Field(description="The object crop that stands for the item.")
    thumbnails: list[str] = Field(description=f"Object crops of up to {THUMBNAILS} events.")
    clip_url: str = Field(description="Its footage with pre- and post-roll.")
    reviewed: bool = Field(description="Marked reviewed by the user asking.")


class ReviewPageOut(BaseModel):
    total: int = Field(description="Items matching the filters, over all pages.")
    limit: int
    offset: int
    items: list[ReviewItemOut]


class ReviewedOut(BaseModel):
    id: str
    reviewed: bool


def _reviews(events: Events) -> ReviewStore:
    return ReviewStore(events.database)


Reviews = Annotated[ReviewStore, Depends(_reviews)]


def _items_out(
    request: Request, state: State, files: Files, events: EventStore, found: list[ReviewedItem]
) -> list[ReviewItemOut]:
    shown = {
        found.item.id: [found.item.thumbnail or "", *found.item.event_ids[:THUMBNAILS]]
        for found in found
    }
    stored = events.get_many({e for ids in shown.values() for e in ids if e})
    out = []
    for entry in found:
        item = entry.item
        crops: list[str] = []
        for event_id in dict.fromkeys(shown[item.id]):
            event = stored.get(event_id)
            url = None if event is None else crop_url(request, state, files, event)
            if url is not None and len(crops) < THUMBNAILS:
                crops.append(url)
        thumbnail_event = stored.get(item.thumbnail or "")
        out.append(
            ReviewItemOut(
                id=item.id,
                camera=item.source,
                start=item.start,
                end=item.end,
                severity=item.severity,
                apps=sorted(item.apps),
                types=sorted(item.types),
                classes=sorted(item.classes),
                zones=sorted(item.zones),
                event_count=len(item.event_ids),
                events=item.event_ids,
                thumbnail=None
                if thumbnail_event is None
                else crop_url(request, state, files, thumbnail_event),
                thumbnails=crops,
                clip_url=_clip_url(request, state, entry),
                reviewed=entry.reviewed,
            )
        )
    return out


def _clip_url(request: Request, state: State, entry: ReviewedItem) -> str:
    """One event's clip (cut and cached by its route); several events' span as an export."""
    item = entry.item
    if len(item.event_ids) == 1:
        return url_for(request, "event_clip", event_id=item.event_ids[0])
    camera = state.camera(item.source)
    pre = camera.pre_roll if camera else 5.0
    post = camera.post_roll if camera else 5.0
    export = url_for(request, "export_recording")
    return f"{export}?camera={item.source}&start={item.start - pre:.3f}&end={item.end + post:.3f}"


def _item_or_404(reviews: ReviewStore, item_id: str, principal: Principal) -> ReviewedItem:
    found = reviews.get(item_id, principal.username)
    if found is None or not principal.can_see(found.item.source):
        raise HTTPException(404, f"unknown review item {item_id!r}")
    return found


@router.get("/api/review", response_model=ReviewPageOut)
def list_review(
    request: Request,
    principal: Viewer,
    state: State,
    events: Events,
    files: Files,
    reviews: Reviews,
    camera: str | None = None,
    app_name: Annotated[str | None, Query(alias="app")] = None,
    zone: Annotated[str | None, Query(description="A zone or line its events name.")] = None,
    class_name: str | None = None,
    type: str | None = None,  # noqa: A002 - the query parameter's name
    severity: Literal["alert", "detection"] | None = None,
    start: Annotated[Timestamp | None, Query(description="Items ending at or after.")] = None,
    end: Annotated[Timestamp | None, Query(description="Items starting before.")] = None,
    reviewed: Annotated[bool | None, Query(description="Marked reviewed by me (or not).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> ReviewPageOut:
    """Review items matching every given filter, newest first, with whether I reviewed them."""
    filters = ReviewFilters(
        source=camera,
        sources=principal.cameras,
        app=app_name,
        zone=zone,
        class_name=class_name,
        type=type,
        severity=severity,
        since=start,
        until=end,
        reviewed=reviewed,
    )
    page = reviews.page(filters, principal.username, limit, offset)
    return ReviewPageOut(
        total=page.total,
        limit=limit,
        offset=offset,
        items=_items_out(request, state, files, events, page.items),
    )


@router.get("/api/review/facets", response_model=ReviewFacets)
def review_facets(principal: Viewer, reviews: Reviews) -> ReviewFacets:
    """The cameras, apps, zones, classes, types and severities the items I may see hold,
    and their time range: what the review page's filters offer."""
    return reviews.facets(principal.cameras)


@router.post("/api/review/{item_id}/reviewed", response_model=ReviewedOut)
def mark_reviewed(item_id: str, principal: Viewer, reviews: Reviews) -> ReviewedOut:
    """Mark the item reviewed (for me only)."""
    found = _item_or_404(reviews, item_id, principal)
    reviews.mark(found.item.id, principal.username, True)
    return ReviewedOut(id=found.item.id, reviewed=True)


@router.delete("/api/review/{item_id}/reviewed", response_model=ReviewedOut)
def unmark_reviewed(item_id: str, principal: Viewer, reviews: Reviews) -> ReviewedOut:
    """Take my reviewed mark off the item."""
    found = _item_or_404(reviews, item_id, principal)
    reviews.mark(found.item.id, principal.username, False)
    return ReviewedOut(id=found.item.id, reviewed=False)
