"""Helpers of the sandbox tests: a scene, frames of tracked objects, quick limits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.apps.base import FrameContext, Scene
from vigil.appstore.installed import InstalledApp
from vigil.detection.detections import Detections
from vigil.geometry.shapes import Zone
from vigil.sandbox import SandboxedApp, SandboxLimits
from vigil.sandbox.bwrap import launcher

HERE = Path(__file__).parent
REPO = HERE.parents[1]
FPS = 15.0
WIDTH, HEIGHT = 640, 480
#: Quick supervision so that the tests see stops and restarts within seconds.
FAST = SandboxLimits(
    memory_mb=768,
    frame_deadline_s=0.5,
    startup_timeout_s=15.0,
    finish_timeout_s=5.0,
    max_consecutive_errors=3,
    max_events_per_s=100,
    flood_seconds=1,
    backoff_initial_s=0.2,
    backoff_max_s=1.0,
    max_restarts=3,
    restart_window_s=60.0,
)

Installer = Callable[..., InstalledApp]


def scene() -> Scene:
    zone = Zone("left", [(0, 0), (320, 0), (320, 480), (0, 480)])
    return Scene.build(WIDTH, HEIGHT, zones=[zone], class_names=["person", "bicycle", "car"])


def objects(frame: int, n: int = 50) -> Detections:
    """`n` tracked boxes drifting right, ids 1..n."""
    rng = np.random.default_rng(frame)
    x = (np.arange(n) * 12 + frame * 2) % (WIDTH - 40)
    y = rng.uniform(0, HEIGHT - 80, n)
    xyxy = np.stack([x, y, x + 30, y + 70], axis=1).astype(np.float32)
    return Detections(xyxy, np.full(n, 0.9, np.float32), np.zeros(n, np.int64), np.arange(1, n + 1))


def context(frame: int, source: str = "cam") -> FrameContext:
    return FrameContext(source, frame, frame / FPS, WIDTH, HEIGHT)


def sandboxed(
    installed: InstalledApp,
    settings: dict[str, Any] | None = None,
    limits: SandboxLimits = FAST,
    name: str | None = None,
) -> SandboxedApp:
    manifest, name = installed.manifest, name or installed.manifest.id
    return SandboxedApp(manifest, installed.site_dir, name, settings or {}, scene(), limits)


requires_bwrap = pytest.mark.skipif(
    not launcher().sandboxed,
    reason=f"bubblewrap does not work here ({launcher().reason}): no containment to test",
)


def descendants(pid: int) -> set[int]:
    """Pids of every process below `pid` (children, grandchildren, ...), from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


class StandingPeople:
    """A stand-in detector (the model is not what these tests are about): three people
    standing still, so a healthy tracker keeps the same three ids on every frame."""

    BOXES = np.array([[40, 100, 80, 200], [300, 120, 340, 220], [500, 90, 540, 190]], np.float32)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        n = len(self.BOXES)
        return [
            Detections(self.BOXES.copy(), np.full(n, 0.9, np.float32), np.zeros(n, np.int64))
            for _ in images
        ]


class WholeFrame:
    """A gate that always looks at the whole picture."""

    motion_boxes: tuple[()] = ()

    def sense(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        return np.array([[0, 0, width, height]], np.float32)

    def plan(self, motion: np.ndarray, tracks: object, speed: object) -> np.ndarray:
        return motion

    def admitted(self, detections: Detections) -> Detections:
        return detections  # no static privacy masks to leave out
