"""Where a site's cameras run, as the supervisor sees it.

`CameraRunner` is what the supervisor asks of them: run, stop, reconfigure a camera, tell it
about live-view demand, watch it. `LocalCameras` runs them on this machine: the shared
detector process and one worker process per camera (`WorkerPool`), whose messages the
supervisor stores as the site's single writer. A cluster (`vigil.cluster.head`) runs them on
the nodes of a Ray cluster instead, where each node stores what its own cameras report.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from typing import Protocol

from vigil.config.site import CameraConfig, SiteConfig
from vigil.service.detector.server import DetectorService
from vigil.service.messages import WorkerMessage
from vigil.service.pool import RestoreStates, WorkerPool

log = logging.getLogger("vigil.service")


class CameraRunner(Protocol):
    """The cameras of a site, wherever they run; every call is thread-safe."""

    #: Whether the supervisor stores the events and segments its inbox brings (False where
    #: the cameras' own nodes store them, fenced by their leases).
    stores_messages: bool

    def start_up(self) -> None:
        """Before the first camera starts (load the model, reach the cluster, ...)."""

    def shut_down(self) -> None:
        """Stop every camera (open segments are finished) and what `start_up` started."""

    def watch(self) -> None:
        """Called every half second: restart what died or hung, follow the cluster."""

    def start(self, camera_id: str) -> None: ...

    def stop(self, camera_id: str, removed: bool) -> None:
        """Stop the camera; then it is dropped (`removed`) or started again with the site as
        it is then."""

    def reconfigure(
        self, camera: CameraConfig, rebuild: frozenset[str] = frozenset()
    ) -> int | None:
        """Give the camera its new scene; the generation its `Reconfigured` answer will
        carry, or None when it is not running."""

    def set_live_demand(self, camera_id: str, wanted: bool, unmasked: bool = False) -> None:
        """Live JPEGs while `wanted`; unmasked ones too while `unmasked` (privacy)."""

    def heard(self, camera_id: str | None) -> None:
        """The camera said something (a silent one counts as hung)."""

    def reading(self) -> bool:
        """Whether any camera may still bring messages."""


#: Builds a site's runner: the site as it is now (it changes while running), the inbox
#: every message of its cameras goes to, and where a camera's first worker finds its apps'
#: saved states (the supervisor's database).
RunnerFactory = Callable[
    [Callable[[], SiteConfig], "queue.Queue[WorkerMessage]", RestoreStates | None], CameraRunner
]


def take_batch(
    inbox: queue.Queue[WorkerMessage], limit: int, finished: Callable[[], bool]
) -> list[WorkerMessage] | None:
    """The next messages of the inbox (waiting up to 0.2 s for the first, then up to `limit`
    of those already there); [] when none came, None once `finished()` and it is empty."""
    try:
        batch = [inbox.get(timeout=0.2)]
    except queue.Empty:
        return None if finished() else []
    while len(batch) < limit:
        try:
            batch.append(inbox.get_nowait())
        except queue.Empty:
            break
    return batch


class LocalCameras:
    """The cameras on this machine: the detector process, shared by one worker process per
    camera. The supervisor stores their messages."""

    stores_messages = True

    def __init__(
        self,
        site: Callable[[], SiteConfig],
        inbox: queue.Queue[WorkerMessage],
        restore: RestoreStates | None = None,
    ):
        settings = site()
        self.detector = DetectorService(
            settings.detector,
            max_batch=settings.detector_service.max_batch,
            max_wait_ms=settings.detector_service.max_wait_ms,
        )
        # A camera's first worker starts its apps from `restore(camera)` (`WorkerPool`).
        self.pool = WorkerPool(site, lambda: self.detector.handle, inbox, restore=restore)

    def start_up(self) -> None:
        self.detector.start()
        log.info("detector started (pid %s) %s", self.detector.pid, self.detector.device)

    def shut_down(self) -> None:
        self.pool.stop_all()
        self.detector.stop()

    def watch(self) -> None:
        if not self.detector.alive:
            log.error("detector process died (exit %s): restarting it", self.detector.exitcode)
            self.detector.start()
            log.info("detector started (pid %s) %s", self.detector.pid, self.detector.device)
        self.pool.watch()

    def start(self, camera_id: str) -> None:
        self.pool.start(camera_id)

    def stop(self, camera_id: str, removed: bool) -> None:
        self.pool.stop(camera_id, removed)

    def reconfigure(
        self, camera: CameraConfig, rebuild: frozenset[str] = frozenset()
    ) -> int | None:
        return self.pool.reconfigure(camera, rebuild)

    def set_live_demand(self, camera_id: str, wanted: bool, unmasked: bool = False) -> None:
        self.pool.set_live_demand(camera_id, wanted, unmasked)

    def heard(self, camera_id: str | None) -> None:
        self.pool.heard(camera_id)

    def reading(self) -> bool:
        return self.pool.reading()
