"""`vigil serve`: the supervisor with the HTTP API in front of it.

The supervisor (`vigil.service`) sits below the API and does not import it; this module,
above both, hands it the front end to build once the database is open: the API's read model
of the site (`ServiceState`, which the supervisor feeds) and the FastAPI app, whose routes
reach the supervisor only through the `SiteControl` protocol and the live-demand callable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI

from vigil.api.app import create_app, log_setup_hint
from vigil.api.cluster import ClusterControl
from vigil.api.state import ServiceState
from vigil.cluster.head import ClusterCameras
from vigil.config.site import SiteConfig
from vigil.events.store import EventStore
from vigil.recording.index import SegmentIndex
from vigil.service.cameras import LocalCameras, RunnerFactory
from vigil.service.supervisor import Supervisor


def http_front_end(
    supervisor: Supervisor,
    events: EventStore,
    index: SegmentIndex,
    cluster: ClusterControl | None = None,
) -> tuple[ServiceState, FastAPI]:
    """The read model and the app for `supervisor`'s site (`Supervisor.front_end`);
    `cluster`: the cluster head when the site runs on several nodes."""
    site = supervisor.site
    state = ServiceState.from_site(site, events, hub=supervisor.hub, index=index)
    app = create_app(
        state,
        site=supervisor if site.file is not None else None,
        live_demand=supervisor.set_live_demand,
        cluster=cluster,
    )
    return state, app


def serve_site(
    site: SiteConfig,
    stop: Callable[[], bool],
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run `site` with its API until `stop()` is true (`Supervisor.run`); `on_ready(url)`
    once the API listens, after the first-admin hint is logged when no account exists."""
    apps: list[FastAPI] = []

    def front_end(
        supervisor: Supervisor, events: EventStore, index: SegmentIndex
    ) -> tuple[ServiceState, FastAPI]:
        cameras = supervisor.cameras
        cluster = cameras if isinstance(cameras, ClusterCameras) else None
        state, app = http_front_end(supervisor, events, index, cluster)
        apps.append(app)
        return state, app

    def ready(url: str) -> None:
        port = urlsplit(url).port
        if apps and port is not None:
            log_setup_hint(apps[0], port, Path(site.file) if site.file is not None else None)
        if on_ready is not None:
            on_ready(url)

    runner: RunnerFactory = LocalCameras if site.cluster is None else ClusterCameras
    Supervisor(site, front_end=front_end, runner=runner).run(stop, on_ready=ready)
