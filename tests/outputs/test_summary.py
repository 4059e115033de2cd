import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from vigil.detection.detections import Detections
from vigil.errors import VigilError
from vigil.events.event import Event
from vigil.outputs.summary import RunStats, RunSummary


def sample() -> RunSummary:
    return RunSummary(
        source="vtest.avi",
        frames=795,
        duration_s=79.5,
        fps_processed=143.214,
        objects={"person": 12, "car": 3},
        counters={"entrance": {"person in": 3, "person out": 5.0}, "lobby": {"occupancy": 4}},
        events={"entrance": {"line_cross": 8}, "lobby": {"zone_enter": 5, "zone_exit": 4}},
        outputs={"video": "out/annotated.mp4", "mot": "out/pred.txt"},
    )


def test_to_json_content(tmp_path: Path) -> None:
    path = sample().to_json(tmp_path / "run" / "summary.json")
    assert json.loads(path.read_text()) == {
        "source": "vtest.avi",
        "frames": 795,
        "duration_s": 79.5,
        "fps_processed": 143.21,
        "objects": {"person": 12, "car": 3},
        "counters": {"entrance": {"person in": 3, "person out": 5}, "lobby": {"occupancy": 4}},
        "events": {"entrance": {"line_cross": 8}, "lobby": {"zone_enter": 5, "zone_exit": 4}},
        "outputs": {"video": "out/annotated.mp4", "mot": "out/pred.txt"},
    }
    back = RunSummary.from_json(path)
    assert back.objects == {"person": 12, "car": 3}
    assert back.counters["entrance"] == {"person in": 3, "person out": 5}


def test_from_json_errors(tmp_path: Path) -> None:
    with pytest.raises(VigilError, match="summary file not found"):
        RunSummary.from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(VigilError, match="malformed summary file"):
        RunSummary.from_json(bad)


def test_render_table() -> None:
    console = Console(record=True, width=120)
    sample().render_table(console)
    text = console.export_text()
    assert "vtest.avi · 795 frames · 79.5 s · 143.2 fps" in text
    lines = text.splitlines()
    assert any("objects" in ln and "person" in ln and "12" in ln for ln in lines)
    assert any("entrance" in ln and "person in 3 / out 5" in ln for ln in lines)
    assert any("lobby" in ln and "occupancy 4" in ln for ln in lines)
    assert any("lobby" in ln and "zone_enter 5 / zone_exit 4" in ln for ln in lines)
    assert any("video" in ln and "out/annotated.mp4" in ln for ln in lines)


def test_render_empty_table() -> None:
    console = Console(record=True, width=80)
    RunSummary("cam1", 0, 0.0, 0.0).render_table(console)
    assert "nothing detected" in console.export_text()


def det(ids: list[int], classes: list[int]) -> Detections:
    n = len(ids)
    return Detections(np.zeros((n, 4)) + [0, 0, 10, 10], np.full(n, 0.9), classes, np.asarray(ids))


def test_run_stats() -> None:
    stats = RunStats(["person", "bicycle", "car", "motorcycle", "bus", "truck"])
    fps = 25.0
    frames = [
        det([1, 2, -1], [0, 2, 0]),
        det([1, 2], [0, 5]),  # track 2 flickers car -> truck
        det([1, 2, 3], [0, 2, 0]),
        det([], []),
    ]
    for i, d in enumerate(frames):
        stats.update(d, pts=10.0 + i / fps)
    ev = dict(source="cam1", start_time=0.0, frame_index=0)
    stats.add_events(
        [
            Event(app="entrance", type="line_cross", **ev),
            Event(app="entrance", type="line_cross", **ev),
            Event(app="lobby", type="loitering", state="start", **ev),
            Event(app="lobby", type="loitering", state="update", **ev),
            Event(app="lobby", type="loitering", state="end", **ev),
        ]
    )
    summary = stats.summary(
        "cam1",
        wall_s=0.5,
        fps=fps,
        counters={"entrance": {"person in": np.int64(2)}},
        outputs={"video": Path("out/a.mp4")},
    )
    assert summary.frames == 4
    assert summary.objects == {"person": 2, "car": 1}
    assert summary.events == {"entrance": {"line_cross": 2}, "lobby": {"loitering": 1}}
    assert summary.duration_s == pytest.approx(4 / fps)
    assert summary.fps_processed == pytest.approx(8.0)
    assert summary.to_dict()["counters"] == {"entrance": {"person in": 2}}
    assert summary.outputs == {"video": "out/a.mp4"}


def test_run_stats_without_pts() -> None:
    stats = RunStats({0: "person"})
    for _ in range(50):
        stats.update(Detections.empty())
    s = stats.summary("cam1", wall_s=0.0, fps=25)
    assert (s.frames, s.duration_s, s.fps_processed, s.objects) == (50, 2.0, 0.0, {})
