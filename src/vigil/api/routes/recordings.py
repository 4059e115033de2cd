"""Recordings: the segments and gaps of a time range, the recorded footage and activity of
several cameras over any range for the timeline (``GET /api/recordings/timeline``), the
picture at one moment (``GET /api/recordings/frame.jpg``, the timeline's hover preview), one
segment's MP4 (with Range requests), and exports of a range as one MP4: at once (``GET /api/recordings/export``) or as
a background job with progress (``POST /api/recordings/exports``, `vigil.api.exports`).

On a cluster each segment stays on the node that recorded it: playback and exports read it
from there (`vigil.api.cluster.NodeFiles`), and a 503 names a node that is down.

A principal the camera's privacy policy serves masked (`vigil.api.privacy.privacy_view`), or
any principal of a camera with static masks, gets masked copies: a segment is masked once per
policy and cached with the clips (retention deletes it with them; the first request gets it
streamed as it is masked), an export is masked by its job. A picture at a moment is masked
the same way, from the same stored boxes."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from vigil.api.cluster import NodeFiles, NodeUnavailable, ReadableIndex, segment_node
from vigil.api.deps import (
    Admin,
    Events,
    Exports,
    Files,
    Operator,
    Recording,
    Segments,
    State,
    camera_or_404,
    url_for,
)
from vigil.api.exports import (
    Exporter,
    ExportJob,
    exported,
    masked_exporter,
    masking_key,
)
from vigil.api.privacy import PrivacyView, camera_privacy, privacy_view, view_detail
from vigil.api.schemas import (
    ERROR_RESPONSES,
    NODE_DOWN,
    ExportIn,
    ExportJobOut,
    GapOut,
    RecordingsOut,
    SegmentOut,
    SubjectAccessIn,
    TimelineCameraOut,
    TimelineOut,
    TimelineSpanOut,
    Timestamp,
    bad_param,
)
from vigil.api.state import SegmentIndexLike, ServiceState
from vigil.api.subject_access import subject_access_exporter
from vigil.auth import audit
from vigil.privacy.boxes import boxes_path, load_boxes
from vigil.privacy.reencode import MaskRequest, Span, frame_at, masked_stream
from vigil.recording.index import ActivityBucket

__all__ = ["MAX_EXPORT_S", "MAX_LIST_RANGE_S", "MAX_TIMELINE_RANGE_S", "router"]

MAX_LIST_RANGE_S = 24 * 3600.0  # longest range of GET /api/recordings
MAX_TIMELINE_RANGE_S = 31 * 86400.0  # longest range of GET /api/recordings/timeline
MAX_TIMELINE_BUCKETS = 2000
MIN_BUCKET_S = 1.0  # finer than this the timeline shows the segments themselves
SPAN_JOIN_S = 1.5  # footage closer than this is one span (as `gaps` ignores shorter holes)
FRAME_CACHE_BYTES = 32 * 2**20  # preview pictures kept in memory (~15 kB each at 320 px)
MAX_EXPORT_S = 3 * 3600.0  # longest range of an export
EXPORT_POLL_S = 0.1  # how often a waiting GET /api/recordings/export looks at its job
_MP4 = {200: {"content": {"video/mp4": {}}}, **ERROR_RESPONSES}
_RECORDED_MP4 = {**_MP4, 503: NODE_DOWN}  # read from the node that recorded it

router = APIRouter(tags=["recordings"], responses=ERROR_RESPONSES)


def check_range(start: float, end: float, longest: float) -> None:
    if end <= start:
        raise bad_param("end", "must be after start", end)
    if end - start > longest:
        raise bad_param("end", f"the range may span at most {longest:g} s", end)


def _segment_out(seg: Any) -> SegmentOut:
    """A `vigil.recording.index.Segment` (or a `SegmentInfo`) on the API: no file path."""
    segment_id = getattr(seg, "id", None)
    return SegmentOut(
        id=segment_id if isinstance(segment_id, int) else None,
        start_time=seg.start_time,
        end_time=seg.end_time,
        duration_s=round(seg.end_time - seg.start_time, 3),
        size_bytes=seg.size_bytes,
        motion=seg.motion,
        objects=seg.objects,
        node=segment_node(seg),
    )


@router.get("/api/recordings", response_model=RecordingsOut)
def list_recordings(
    _: Operator,
    state: State,
    index: Segments,
    camera: str,
    start: Annotated[Timestamp | None, Query(description="Default: an hour before end.")] = None,
    end: Annotated[Timestamp | None, Query(description="Default: now.")] = None,
) -> RecordingsOut:
    """The camera's recorded segments in a time range, and the gaps between them."""
    camera_or_404(state, camera)
    end_ = state.clock() if end is None else end
    start_ = end_ - 3600.0 if start is None else start
    check_range(start_, end_, MAX_LIST_RANGE_S)
    segments = [_segment_out(s) for s in index.between(camera, start_, end_)]
    segments.sort(key=lambda s: s.start_time)
    gaps = [
        GapOut(start=a, end=b, duration_s=round(b - a, 3))
        for a, b in index.gaps(camera, start_, end_, edges=True)
    ]
    recorded = sum(max(0.0, min(s.end_time, end_) - max(s.start_time, start_)) for s in segments)
    return RecordingsOut(
        camera=camera,
        start=start_,
        end=end_,
        recorded_s=round(recorded, 3),
        segments=segments,
        gaps=gaps,
    )


@router.get("/api/recordings/timeline", response_model=TimelineOut)
def recordings_timeline(
    _: Operator,
    state: State,
    index: Segments,
    camera: Annotated[list[str], Query(description="One or more cameras (repeated).")],
    start: Timestamp,
    end: Timestamp,
    buckets: Annotated[
        int, Query(ge=1, le=MAX_TIMELINE_BUCKETS, description="The resolution: about the width.")
    ] = 600,
) -> TimelineOut:
    """The recorded footage of each camera over [start, end) (up to 31 days) as spans,
    each marked with whether it saw motion or objects: consecutive footage of the same
    activity is one span, summed by the database per ``(end - start) / buckets`` seconds,
    so a week of short segments is a few hundred spans."""
    check_range(start, end, MAX_TIMELINE_RANGE_S)
    for camera_id in camera:
        camera_or_404(state, camera_id)
    bucket_s = max(MIN_BUCKET_S, (end - start) / buckets)
    rows = []
    for camera_id in dict.fromkeys(camera):
        spans = _spans(index.activity(camera_id, start, end, bucket_s))
        recorded = round(sum(span.recorded_s for span in spans), 3)
        rows.append(TimelineCameraOut(camera=camera_id, recorded_s=recorded, spans=spans))
    return TimelineOut(start=start, end=end, bucket_s=round(bucket_s, 3), cameras=rows)


def _spans(buckets: Sequence[ActivityBucket]) -> list[TimelineSpanOut]:
    """Consecutive buckets of footage with the same activity joined into spans."""
    spans: list[TimelineSpanOut] = []
    for bucket in buckets:
        last = spans[-1] if spans else None
        same = last is not None and (last.motion, last.objects) == (bucket.motion, bucket.objects)
        if last is not None and same and bucket.first - last.end <= SPAN_JOIN_S:
            last.end = max(last.end, bucket.last)
            last.recorded_s = round(last.recorded_s + bucket.recorded_s, 3)
            continue
        spans.append(
            TimelineSpanOut(
                start=bucket.first,
                end=bucket.last,
                recorded_s=round(bucket.recorded_s, 3),
                motion=bucket.motion,
                objects=bucket.objects,
            )
        )
    return spans


class _FrameCache:
    """The preview pictures asked for last, by segment, moment, width and masking, up to
    `max_bytes` in all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._pictures: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            picture = self._pictures.get(key)
            if picture is not None:
                self._pictures.move_to_end(key)
            return picture

    def put(self, key: tuple[Any, ...], picture: bytes) -> None:
        with self._lock:
            old = self._pictures.pop(key, None)
            self._bytes += len(picture) - (len(old) if old is not None else 0)
            self._pictures[key] = picture
            while self._bytes > self.max_bytes and self._pictures:
                _, dropped = self._pictures.popitem(last=False)
                self._bytes -= len(dropped)


_cache_lock = threading.Lock()


def _frame_cache(request: Request) -> _FrameCache:
    with _cache_lock:
        cache = getattr(request.app.state, "recording_frames", None)
        if not isinstance(cache, _FrameCache):
            cache = request.app.state.recording_frames = _FrameCache(FRAME_CACHE_BYTES)
        return cache


@router.get(
    "/api/recordings/frame.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 503: NODE_DOWN},
)
def recording_frame(
    request: Request,
    principal: Operator,
    state: State,
    index: Segments,
    files: Files,
    camera: str,
    t: Timestamp,
    width: Annotated[int, Query(ge=32, le=1920, description="Scaled to this width.")] = 320,
) -> Response:
    """The camera's recorded picture at moment `t` (the frame shown then), as a JPEG: the
    timeline's hover preview. Masked as playback is for this user (the segment's stored
    boxes at that moment; masked whole where they do not cover it); audited
    (``playback.frame``) as playback is. 404 where nothing is recorded at `t`."""
    camera_or_404(state, camera)
    segment = next((s for s in index.between(camera, t, t + 1e-3) if s.start_time <= t), None)
    if segment is None:
        raise HTTPException(404, f"nothing recorded for camera {camera!r} at {t:.3f}")
    path = Path(files.segment(segment).path)
    if not path.is_file():
        raise HTTPException(404, f"segment {segment.id} has no file (deleted by retention?)")
    view = privacy_view(state, principal, camera)
    audit(
        request,
        principal,
        "playback.frame",
        camera,
        {"segment": segment.id, "t": t, **view_detail(view)},
    )
    offset = t - segment.start_time
    mask = MaskRequest(view.settings, view.mask_objects) if view.masks_anything else None
    boxes = boxes_path(path)
    stamp = boxes.stat().st_mtime_ns if mask is not None and boxes.is_file() else 0
    masking = masking_key(view) if mask is not None else ""
    key = (segment.id, round(offset * 1000), width, masking, stamp)
    cache = _frame_cache(request)
    picture = cache.get(key)
    if picture is None:
        picture = _jpeg(frame_at(path, offset, mask), width)
        cache.put(key, picture)
    return Response(
        picture, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


def _jpeg(image: np.ndarray, width: int) -> bytes:
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    scaled = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise HTTPException(500, "the picture could not be encoded")
    return encoded.tobytes()


@router.get(
    "/api/recordings/segments/{segment_id}.mp4",
    name="recording_segment",
    response_class=FileResponse,
    responses={
        **_RECORDED_MP4,
        206: {"content": {"video/mp4": {}}, "description": "The requested byte range."},
    },
)
def recording_segment(
    segment_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)],
    request: Request,
    principal: Operator,
    state: State,
    index: Segments,
    files: Files,
) -> Response:
    """One recorded segment (``id`` from ``GET /api/recordings``) as its MP4, with HTTP
    Range requests, so a ``<video>`` can seek in it; 503 when the node that has it is down.
    Masked where the camera's privacy policy says so for this user (a copy, made on the
    first request: streamed to it as a fragmented MP4 while it is made, ranges after).
    Audited (``playback.segment``) once per playback: the request that starts at byte 0,
    not every range after it."""
    segment = index.get(segment_id)
    # A segment of a camera the user may not see is not there for them.
    if segment is None or not principal.can_see(segment.camera):
        raise HTTPException(404, f"unknown segment {segment_id}")
    path = Path(files.segment(segment).path)
    if not path.is_file():
        raise HTTPException(404, f"segment {segment_id} has no file (deleted by retention?)")
    view = privacy_view(state, principal, segment.camera)
    if request.headers.get("range", "bytes=0-").replace(" ", "").startswith("bytes=0-"):
        audit(
            request,
            principal,
            "playback.segment",
            segment.camera,
            {
                "segment": segment_id,
                "start": segment.start_time,
                "end": segment.end_time,
                **view_detail(view),
            },
        )
    headers = {"Cache-Control": "private, max-age=3600"}
    if view.masks_anything:
        masked = _masked_segment(state.exports_dir / "clips", segment_id, segment, path, view)
        if isinstance(masked, StreamingResponse):
            masked.headers.update(headers)
            return masked
        path = masked
    return FileResponse(path, media_type="video/mp4", headers=headers)


@router.get("/api/recordings/segments/{segment_id}/boxes.json", responses={503: NODE_DOWN})
def segment_boxes(
    segment_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)],
    principal: Admin,
    index: Segments,
    files: Files,
) -> dict[str, Any]:
    """The tracked boxes stored with a segment, per analysed frame (``t``: seconds from the
    segment's start; each object's ``track_id``, ``class_name`` and ``box`` in pixels), to
    pick a person in playback for a subject-access export. Admins only."""
    segment = index.get(segment_id)
    if segment is None:
        raise HTTPException(404, f"unknown segment {segment_id}")
    node = segment_node(segment)
    try:
        path = files.path(node, boxes_path(segment.path), "boxes")
    except FileNotFoundError:
        path = None
    track = None if path is None else load_boxes(path)
    if track is None:
        raise HTTPException(404, f"segment {segment_id} has no stored boxes")
    frames = []
    for i, t in enumerate(track.times.tolist()):
        rows = range(int(track.offsets[i]), int(track.offsets[i + 1]))
        objects = [
            {
                "track_id": int(track.track_ids[r]),
                "class_name": track.class_names[int(track.class_index[r])],
                "box": [round(float(v), 1) for v in track.boxes[r]],
            }
            for r in rows
        ]
        frames.append({"t": round(t, 3), "objects": objects})
    return {"segment": segment_id, "start_time": segment.start_time, "frames": frames}


def _masked_segment(
    folder: Path, segment_id: int, segment: Any, path: Path, view: PrivacyView
) -> Path | StreamingResponse:
    """The segment masked for `view`: the copy cached in `folder` by policy and by the state
    of its stored boxes (written a little after the segment: a copy made before them, masked
    whole, is not served once they are there), or, until there is one, a fragmented MP4
    streamed as it is encoded (its first bytes at once) and cached once complete."""
    boxes = boxes_path(path)
    stamp = boxes.stat().st_mtime_ns if boxes.is_file() else 0
    cached = folder / f"segment-{segment_id}-{masking_key(view)}-{stamp}.mp4"
    if cached.is_file():
        return cached
    folder.mkdir(parents=True, exist_ok=True)
    span = Span(path, segment.start_time, segment.start_time, segment.end_time + 1.0)
    stream = masked_stream([span], MaskRequest(view.settings, view.mask_objects), keep=cached)
    try:
        first = next(stream)  # here, where a failure is still an HTTP error
    except LookupError:
        raise HTTPException(404, f"segment {segment_id} has no frames") from None
    return StreamingResponse(itertools.chain([first], stream), media_type="video/mp4")


def _export_filename(camera: str, start: float, end: float) -> str:
    try:
        stamp = datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%SZ")
    except (OverflowError, OSError, ValueError):
        stamp = f"{start:.0f}"
    return f"{camera}-{stamp}-{round(end - start)}s.mp4"


def _nothing_recorded(camera: str) -> HTTPException:
    return HTTPException(404, f"nothing recorded for camera {camera!r} in that range")


def _check_recorded(
    index: SegmentIndexLike, files: NodeFiles, camera: str, start: float, end: float
) -> None:
    """404 when nothing is recorded in the range, 503 when a node holding some is down."""
    segments = list(index.between(camera, start, end))
    if not segments:
        raise _nothing_recorded(camera)
    files.check_up(segment_node(s) for s in segments)


@router.get("/api/recordings/export", response_class=FileResponse, responses=_RECORDED_MP4)
async def export_recording(
    request: Request,
    principal: Operator,
    state: State,
    index: Segments,
    recording: Recording,
    jobs: Exports,
    files: Files,
    camera: str,
    start: Timestamp,
    end: Timestamp,
) -> FileResponse:
    """A time range of the camera's recording as one MP4 (at most three hours), once it is
    cut (``POST /api/recordings/exports`` does the same in the background, with progress).
    Audited (``export``)."""
    camera_or_404(state, camera)
    check_range(start, end, MAX_EXPORT_S)
    view = privacy_view(state, principal, camera)
    detail = {"start": start, "end": end, **view_detail(view)}
    await run_in_threadpool(audit, request, principal, "export", camera, detail)
    await run_in_threadpool(_check_recorded, index, files, camera, start, end)
    # Cut by an export job: the copy holds none of the API's threads while the client waits.
    run = _exporter(recording, files.index(index), camera, start, end, view)
    job = jobs.start(principal.username, camera, start, end, run)
    while job.finished_at is None:
        await asyncio.sleep(EXPORT_POLL_S)
    if job.path is None:
        jobs.discard(job)
        if isinstance(job.failure, NodeUnavailable):  # went down while the job read it: 503
            raise job.failure
        raise HTTPException(404, f"nothing to export: {job.error}")
    return FileResponse(
        job.path,
        media_type="video/mp4",
        filename=_export_filename(camera, start, end),
        background=BackgroundTask(jobs.discard, job),
    )


# --------------------------------------------------------------------------- export jobs


def _job_out(request: Request, job: ExportJob) -> ExportJobOut:
    done = job.state == "done"
    return ExportJobOut(
        id=job.id,
        camera=job.camera,
        start=job.start,
        end=job.end,
        state=job.state,
        percent=round(job.progress * 100),
        error=job.error,
        file_url=url_for(request, "export_file", job_id=job.id) if done else None,
    )


def _exporter(
    recording: Any, index: ReadableIndex, camera: str, start: float, end: float, view: PrivacyView
) -> Exporter:
    """The plain copy of the range, or the masked one where `view` masks anything."""
    if view.masks_anything:
        return masked_exporter(index, camera, start, end, view)

    def run(out: Path, progress: Callable[[float], None]) -> Path:
        path = exported(recording.export(index, camera, start, end, out, progress=progress), out)
        if path is None:
            raise LookupError(f"nothing recorded for camera {camera!r} in that range")
        return path

    return run


@router.post(
    "/api/recordings/exports",
    response_model=ExportJobOut,
    status_code=202,
    responses={503: NODE_DOWN},
)
def start_export(
    body: ExportIn,
    request: Request,
    principal: Operator,
    state: State,
    index: Segments,
    recording: Recording,
    jobs: Exports,
    files: Files,
) -> ExportJobOut:
    """Start cutting a time range of the camera's recording (at most three hours) into one
    MP4 in the background; follow it at ``GET /api/recordings/exports/{id}``. Audited
    (``export``)."""
    camera_or_404(state, body.camera)
    if not principal.can_see(body.camera):
        raise HTTPException(403, f"no access to camera {body.camera!r}")
    check_range(body.start, body.end, MAX_EXPORT_S)
    view = privacy_view(state, principal, body.camera)
    detail = {"start": body.start, "end": body.end, **view_detail(view)}
    audit(request, principal, "export", body.camera, detail)
    _check_recorded(index, files, body.camera, body.start, body.end)
    run = _exporter(recording, files.index(index), body.camera, body.start, body.end, view)
    job = jobs.start(principal.username, body.camera, body.start, body.end, run)
    return _job_out(request, job)


def _job_or_404(jobs: Exports, job_id: str, username: str) -> ExportJob:
    job = jobs.get(job_id, username)
    if job is None:
        raise HTTPException(404, f"unknown export {job_id!r}")
    return job


@router.get("/api/recordings/exports/{job_id}", response_model=ExportJobOut)
async def get_export(
    job_id: str, request: Request, principal: Operator, jobs: Exports
) -> ExportJobOut:
    """An export's state and progress; `file_url` once it is done."""
    return _job_out(request, _job_or_404(jobs, job_id, principal.username))


@router.get(
    "/api/recordings/exports/{job_id}/file",
    name="export_file",
    response_class=FileResponse,
    responses={**_MP4, 409: {"description": "Not done yet, or failed"}},
)
async def export_file(job_id: str, principal: Operator, jobs: Exports) -> FileResponse:
    """The MP4 of a finished export (kept an hour after it finished)."""
    job = _job_or_404(jobs, job_id, principal.username)
    if job.state != "done" or job.path is None:
        raise HTTPException(409, f"export {job_id!r} is {job.state}: {job.error or 'not done yet'}")
    return FileResponse(
        job.path, media_type="video/mp4", filename=_export_filename(job.camera, job.start, job.end)
    )


@router.get(
    "/api/recordings/exports/{job_id}/record.json",
    responses={409: {"description": "Not done yet, or failed"}},
)
async def export_record(job_id: str, principal: Operator, jobs: Exports) -> dict[str, Any]:
    """What a finished subject-access export exported and why (404 for other exports)."""
    job = _job_or_404(jobs, job_id, principal.username)
    if job.record is None:
        raise HTTPException(404, f"export {job_id!r} is not a subject-access export")
    if job.state != "done" or not job.record:
        raise HTTPException(409, f"export {job_id!r} is {job.state}: {job.error or 'not done yet'}")
    return job.record


# --------------------------------------------------------------------------- subject access


@router.post(
    "/api/cameras/{camera_id}/subject-access",
    response_model=ExportJobOut,
    status_code=202,
    responses={503: NODE_DOWN},
)
def subject_access(
    camera_id: str,
    body: SubjectAccessIn,
    request: Request,
    principal: Admin,
    state: State,
    events: Events,
    index: Segments,
    jobs: Exports,
    files: Files,
) -> ExportJobOut:
    """A subject-access export: the camera's footage of one person (``track_id``, or the
    track of ``event_id``) over a range, with everyone else masked, as an MP4, and a record
    of what was exported and why (``GET /api/recordings/exports/{id}/record.json`` once
    done). Admins only; a reason is required. Audited (``subject_access`` when asked,
    ``subject_access.done`` with the record)."""
    camera_or_404(state, camera_id)
    track_id, start, end = _subject(body, camera_id, state, events, principal)
    check_range(start, end, MAX_EXPORT_S)
    subject = {
        "requested_by": principal.username,
        "track_id": track_id,
        "event_id": body.event_id,
        "reason": body.reason,
    }
    audit(request, principal, "subject_access", camera_id, {"start": start, "end": end, **subject})
    _check_recorded(index, files, camera_id, start, end)
    record: dict[str, Any] = {}

    def done(made: dict[str, Any]) -> None:
        record.update(made)
        audit(request, principal, "subject_access.done", camera_id, made)

    run = subject_access_exporter(
        files.index(index),
        camera_id,
        camera_privacy(state, camera_id),
        (start, end),
        subject,
        _export_filename(camera_id, start, end),
        done,
    )
    job = jobs.start(principal.username, camera_id, start, end, run)
    job.record = record  # filled when the job is done
    return _job_out(request, job)


def _subject(
    body: SubjectAccessIn, camera_id: str, state: ServiceState, events: Any, principal: Any
) -> tuple[int, float, float]:
    """The track and the range asked for: given, or from the event (its clip's range)."""
    if (body.track_id is None) == (body.event_id is None):
        raise bad_param("track_id", "give either track_id or event_id", body.track_id)
    track_id, start, end = body.track_id, body.start, body.end
    if body.event_id is not None:
        event = events.get(body.event_id)
        if event is None or event.source != camera_id or not principal.can_see(camera_id):
            raise HTTPException(404, f"no event {body.event_id!r} on camera {camera_id!r}")
        if event.track_id is None:
            raise bad_param("event_id", "the event has no track", body.event_id)
        camera = state.camera(camera_id)
        pre, post = (camera.pre_roll, camera.post_roll) if camera else (5.0, 5.0)
        track_id = event.track_id
        start = event.start_time - pre if start is None else start
        last = event.end_time if event.end_time is not None else event.start_time
        end = last + post if end is None else end
    if start is None or end is None:
        raise bad_param("start", "a range is needed with track_id", start)
    assert track_id is not None
    return track_id, start, end
