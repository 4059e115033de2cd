"""Run with ``pytest`` from this directory (Vigil installed, ``PYTHONPATH=src``)."""

import tomllib
from pathlib import Path

import numpy as np
from queue_length.app import QueueLength

from vigil.apps import FrameContext, Scene
from vigil.apps.manifest import MANIFEST_FILENAME, load_manifest, manifest_for_class
from vigil.detection import Detections
from vigil.geometry import Zone

PROJECT = Path(__file__).parents[1]
MANIFEST = PROJECT / "src" / "queue_length" / MANIFEST_FILENAME


def people(*anchors: tuple[int, float, float]) -> Detections:
    """Person boxes 20x50 standing at (x, y), with track ids."""
    tid = np.array([a[0] for a in anchors], dtype=np.int64)
    xy = np.array([a[1:] for a in anchors], dtype=np.float32).reshape(-1, 2)
    xyxy = np.stack([xy[:, 0] - 10, xy[:, 1] - 50, xy[:, 0] + 10, xy[:, 1]], axis=1)
    return Detections(xyxy, np.full(len(tid), 0.9), np.zeros(len(tid), np.int64), tid)


def test_counts_people_in_the_queue_and_their_wait():
    scene = Scene.build(
        100, 100, [Zone("queue", [(0, 0), (50, 0), (50, 100), (0, 100)])], (), ["person"]
    )
    app = QueueLength(
        "q", QueueLength.Settings(zone="queue", report_interval=1.0, max_wait=2.0), scene
    )
    events = []
    for i in range(31):  # 10 fps: #1 waits all along, #2 leaves the zone after 1 s
        x2 = 20.0 if i < 10 else 80.0
        ctx = FrameContext("cam", i, i / 10, 100, 100)
        events += app.process(ctx, people((1, 10.0, 50.0), (2, x2, 50.0)))
    reports = [e.attributes for e in events if e.type == "queue_length"]
    assert reports[0] == {"count": 2, "avg_wait": 0.0, "max_wait": 0.0}
    assert reports[-1] == {"count": 1, "avg_wait": 3.0, "max_wait": 3.0}
    (long_wait,) = [e for e in events if e.type == "long_wait"]
    assert (long_wait.track_id, long_wait.start_time) == (1, 2.0)
    assert app.counters() == {"queue": 1, "avg wait s": 3.0}


def test_manifest_matches_the_class():
    manifest = load_manifest(MANIFEST)
    generated = manifest_for_class(QueueLength)
    for key in ("id", "settings_schema", "events", "data", "entry_point"):
        assert getattr(manifest, key) == getattr(generated, key), key
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    assert manifest.version == pyproject["project"]["version"]
