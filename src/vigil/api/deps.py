"""The API's typed dependencies: who asks, and what the routes read and drive.

Routes declare what they need as parameters (FastAPI full-stack template style)::

    @router.get("/api/events")
    def list_events(principal: Viewer, events: Events) -> EventPage: ...

Everything here comes from the app (`create_app` puts it on ``app.state``), never from the
supervisor: the routes see the service through `ServiceState` (its read model of the site),
the `EventStore`, the segment index, `LiveViewers`, the `SiteControl` protocol below, which
the supervisor implements, and `vigil.api.cluster`'s `ClusterControl`, which the cluster head
implements.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Annotated, Protocol

from fastapi import Depends, HTTPException
from starlette.requests import HTTPConnection, Request

from vigil.api.cluster import ClusterControl, NodeFiles
from vigil.api.exports import ExportJobs
from vigil.api.live import LiveViewers
from vigil.api.state import CameraInfo, SegmentIndexLike, ServiceState
from vigil.auth import Principal, allow
from vigil.config.editor import SiteChanges
from vigil.events.store import EventStore

__all__ = [
    "Admin",
    "Cluster",
    "Events",
    "Exports",
    "Files",
    "Live",
    "Operator",
    "Recording",
    "Segments",
    "Site",
    "SiteControl",
    "State",
    "Viewer",
    "camera_or_404",
    "load_recording",
    "url_for",
]


class SiteControl(Protocol):
    """What the config routes ask of the service that runs the site file (the supervisor)."""

    def check_site_text(self, text: str, file: Path) -> object:
        """Check an edited site file's text exactly as `vigil serve` does at start; raise a
        one-line `ConfigError` when it would be refused."""
        ...

    def apply_site_file(self) -> SiteChanges | None:
        """Apply the site file as saved now (None: nothing runs it, it is only saved).
        Scene changes are confirmed later by the workers' `Reconfigured` answers, which the
        routes await on `ServiceState.reconfigured`."""
        ...


#: Route parameters that authenticate the request and enforce the role and the camera.
Viewer = Annotated[Principal, Depends(allow("viewer"))]
Operator = Annotated[Principal, Depends(allow("operator"))]
Admin = Annotated[Principal, Depends(allow("admin"))]


# The providers are `async`: they only read ``app.state``, and a plain `def` would cost every
# request a hop through the thread pool.
async def _state(connection: HTTPConnection) -> ServiceState:
    state: ServiceState = connection.app.state.vigil
    return state


State = Annotated[ServiceState, Depends(_state)]


async def _events(state: State) -> EventStore:
    return state.events


Events = Annotated[EventStore, Depends(_events)]


async def _segments(state: State) -> SegmentIndexLike:
    if state.index is None:
        raise HTTPException(404, "recording is not enabled on this service")
    return state.index


#: The recording segment index; 404 when the service records nothing.
Segments = Annotated[SegmentIndexLike, Depends(_segments)]


def load_recording() -> ModuleType:
    """`vigil.recording.export` (`export`, `event_clip`, `RecordingError`), imported on
    first use: the rest of the API works without it (and its video libraries)."""
    from vigil.recording import export

    return export


async def _recording() -> ModuleType:
    try:
        return load_recording()
    except ImportError as err:
        raise HTTPException(404, f"recording is not available: {err}") from None


#: What cuts recordings into MP4 files (`vigil.recording.export`); 404 when not installed.
Recording = Annotated[ModuleType, Depends(_recording)]


async def _live(connection: HTTPConnection) -> LiveViewers:
    viewers: LiveViewers = connection.app.state.live_viewers
    return viewers


Live = Annotated[LiveViewers, Depends(_live)]


async def _site(connection: HTTPConnection) -> SiteControl | None:
    control: SiteControl | None = connection.app.state.site_control
    return control


#: The service running the site file; None when the app was built without one.
Site = Annotated[SiteControl | None, Depends(_site)]


async def _exports(connection: HTTPConnection) -> ExportJobs:
    jobs: ExportJobs = connection.app.state.export_jobs
    return jobs


Exports = Annotated[ExportJobs, Depends(_exports)]


async def _cluster(connection: HTTPConnection) -> ClusterControl | None:
    cluster: ClusterControl | None = connection.app.state.cluster
    return cluster


#: The cluster head; None on a single box.
Cluster = Annotated[ClusterControl | None, Depends(_cluster)]


async def _files(connection: HTTPConnection) -> NodeFiles:
    files: NodeFiles = connection.app.state.node_files
    return files


#: Opens recorded files on whichever node has them.
Files = Annotated[NodeFiles, Depends(_files)]


def camera_or_404(state: ServiceState, camera_id: str) -> CameraInfo:
    camera = state.camera(camera_id)
    if camera is None:
        raise HTTPException(404, f"unknown camera {camera_id!r}")
    return camera


def url_for(request: Request, name: str, **params: str) -> str:
    """The path of the named route, under the app's root path (behind a proxy's prefix)."""
    return request.scope.get("root_path", "") + str(request.app.url_path_for(name, **params))
