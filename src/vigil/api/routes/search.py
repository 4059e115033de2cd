"""``POST /api/search/tracks`` (operator): forensic search over the stored track summaries
(`vigil.forensics`) — every object of a camera and time range that passed through a drawn
area, crossed a drawn line (one way or both), stayed long enough or went fast enough. Each
hit says the moment to play; its picture is the recording at that moment
(``/api/recordings/frame.jpg``, masked as playback is), and a small crop of its object
(``/api/search/tracks/{id}/crop.jpg``, masked as snapshots are)."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.api.deps import Events, Operator, State
from vigil.api.privacy import audit_view, privacy_view
from vigil.api.schemas import ERROR_RESPONSES, Timestamp
from vigil.forensics.store import TrackQuery, TrackStore
from vigil.privacy.masking import mask_track_crop

__all__ = ["router"]

MAX_RANGE_S = 31 * 86400.0

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NormalisedPoint = tuple[Fraction, Fraction]


class TrackSearch(BaseModel):
    """What to look for; points are normalised to the frame (0..1, x right, y down)."""

    model_config = ConfigDict(extra="forbid")

    cameras: list[str] | None = Field(None, description="none: every camera you may see")
    start: Timestamp
    end: Timestamp
    classes: list[str] | None = None
    polygon: list[NormalisedPoint] | None = Field(None, min_length=3, max_length=64)
    line: tuple[NormalisedPoint, NormalisedPoint] | None = None
    direction: Literal["in", "out"] | None = Field(
        None, description="with `line`: crossings left to right of start->end are in"
    )
    min_dwell: float | None = Field(None, ge=0, description="seconds in the area (or on screen)")
    min_speed: float | None = Field(None, ge=0, description="km/h (calibrated zones)")
    limit: int = Field(100, ge=1, le=1000)

    @model_validator(mode="after")
    def _sensible(self) -> TrackSearch:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_RANGE_S:
            raise ValueError("a search spans at most 31 days")
        if self.direction is not None and self.line is None:
            raise ValueError("direction needs a line")
        return self


class TrackHitOut(BaseModel):
    id: int
    camera: str
    track_id: int
    class_name: str
    first_time: float
    last_time: float
    moment: float = Field(description="when it entered the area or crossed the line: play here")
    dwell: float
    speed_kmh: float | None
    path: list[tuple[float, float, float]] = Field(description="(time, x, y), x and y normalised")
    picture_url: str | None = Field(
        description="The recording at `moment` (masked as playback is); null when none covers it"
    )
    crop_url: str | None = Field(
        description="A small picture of the object (masked as snapshots are); null when none"
    )


@router.post("/api/search/tracks", response_model=list[TrackHitOut])
def search_tracks(
    body: TrackSearch, principal: Operator, events: Events, state: State
) -> list[TrackHitOut]:
    """The tracks matching every given condition, earliest moment first."""
    cameras = body.cameras
    if cameras is not None:
        hidden = [c for c in cameras if not principal.can_see(c)]
        if hidden:
            raise HTTPException(403, f"not allowed to see camera {hidden[0]!r}")
    elif principal.cameras is not None:
        cameras = sorted(principal.cameras)
    query = TrackQuery(
        start=body.start,
        end=body.end,
        sources=cameras,
        classes=body.classes,
        polygon=body.polygon,
        line=body.line,
        direction=body.direction,
        min_dwell=body.min_dwell,
        min_speed=body.min_speed,
        limit=body.limit,
    )
    hits = TrackStore(events.database).search(query)  # a sync route: FastAPI's thread pool
    index = state.index

    def picture(camera: str, moment: float) -> str | None:
        if index is None or not index.between(camera, moment, moment):
            return None
        return f"/api/recordings/frame.jpg?camera={quote(camera)}&t={moment:.3f}"

    return [
        TrackHitOut(
            id=hit.id,
            camera=hit.source,
            track_id=hit.track_id,
            class_name=hit.class_name,
            first_time=hit.first_time,
            last_time=hit.last_time,
            moment=hit.moment,
            dwell=hit.dwell,
            speed_kmh=hit.speed_kmh,
            path=hit.path,
            picture_url=picture(hit.source, hit.moment),
            crop_url=f"/api/search/tracks/{hit.id}/crop.jpg" if hit.has_crop else None,
        )
        for hit in hits
    ]


@router.get(
    "/api/search/tracks/{track}/crop.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def track_crop(
    track: Annotated[int, PathParam(ge=1, le=2**31 - 1)],  # an INTEGER column on every backend
    request: Request,
    principal: Operator,
    events: Events,
    state: State,
) -> Response:
    """A stored track's crop of its object, masked as the camera's policy says for you
    (the whole crop when its class is masked) and audited as a snapshot view is."""
    found = TrackStore(events.database).crop(track)
    if found is None or not principal.can_see(found[0]):
        raise HTTPException(404, f"no crop for track {track}")
    camera, class_name, jpeg, crop_box = found
    view = privacy_view(state, principal, camera)
    if view.masks_anything:
        jpeg = mask_track_crop(jpeg, crop_box, class_name, view.settings, view.mask_objects)
    audit_view(request, principal, view, "track_crop", str(track))
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})
