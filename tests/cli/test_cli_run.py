"""`vigil run` end to end without ../shared: a synthetic clip, a tiny detector that really
finds its squares, and every output checked (annotated MP4, events database, summary, MOT),
then `vigil eval` on the result.

The clip (tests/conftest.py `WalkerClip`): two blue "persons" cross the vertical middle of
a 416x320 frame in opposite directions over 40 frames, a green "car" stands still.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import av
import numpy as np
import pytest
from cli_helpers import Result, Vigil, invoke_vigil, run_vigil

SITE = """\
source:
  id: yard
detector:
  input_size: [416, 320]   # the clip's own size: the tiny detector's squares stay 80 px
lines:
  gate: {start: [0.5, 0.0], end: [0.5, 1.0]}   # top to bottom: "in" = moving left
zones:
  east: {points: [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]}
apps:
  - type: line_crossing
    settings: {line: gate}
  - type: occupancy
    name: east_side
    settings: {zone: east}
"""


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, walker_clip, tiny_models: Path):
    """One real `vigil run` of the synthetic clip with the site config; (result, workdir)."""
    work = tmp_path_factory.mktemp("run")
    shutil.copy(walker_clip.path, work / "walkers.mp4")
    (work / "site.yaml").write_text(SITE)
    result = run_vigil(
        "run",
        "walkers.mp4",
        "-c",
        "site.yaml",
        "-o",
        "out",
        "--mot",
        "tracks.txt",
        cwd=work,
        models=tiny_models,
    )
    return result, work


def read_mot(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()]


def test_run_succeeds_and_lists_its_outputs(job: tuple[Result, Path]):
    result, _ = job
    assert result.returncode == 0, result
    assert "Traceback" not in result.stderr
    # The device the detector runs on, and why, in one line (auto: the best one installed).
    assert "vigil: detector on cpu (CPUExecutionProvider): auto, best available" in result.stderr
    for name in ("out/annotated.mp4", "out/events.db", "out/summary.json", "tracks.txt"):
        assert name in result.stdout, result


def test_annotated_video_is_h264_with_every_frame(job: tuple[Result, Path], walker_clip):
    _, work = job
    with av.open(str(work / "out" / "annotated.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (
            walker_clip.width,
            walker_clip.height,
        )
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    assert len(frames) == walker_clip.frames
    # the overlay is drawn: the annotated picture differs clearly from the source picture
    source = walker_clip.images()[20].astype(int)
    changed = np.abs(frames[20].astype(int) - source).max(axis=2) > 60
    assert changed.sum() > 500


def test_summary_counts_objects_and_crossings(job: tuple[Result, Path], walker_clip):
    _, work = job
    summary = json.loads((work / "out" / "summary.json").read_text())
    assert summary["frames"] == walker_clip.frames
    assert summary["duration_s"] == pytest.approx(walker_clip.frames / walker_clip.fps, abs=0.11)
    assert summary["objects"] == {"person": 2, "car": 1}
    assert summary["counters"]["line_crossing"] == {"person in": 1, "person out": 1}
    assert summary["counters"]["east_side"]["max"] == 1
    assert summary["events"]["line_crossing"] == {"line_crossing": 2}
    assert summary["outputs"] == {
        "video": "out/annotated.mp4",
        "mot": "tracks.txt",
        "summary": "out/summary.json",
        "database": "out/events.db",
    }


def test_mot_file_has_one_track_per_walker(job: tuple[Result, Path], walker_clip):
    _, work = job
    rows = read_mot(work / "tracks.txt")
    assert rows, "no tracks written"
    for row in rows:
        assert len(row) == 10, row
        assert row[0].isdigit() and row[1].isdigit(), row
        assert row[7:] == ["-1", "-1", "-1"], row
        assert 0 < float(row[6]) <= 1, row
    frames = sorted({int(r[0]) for r in rows})
    assert frames == list(range(1, walker_clip.frames + 1))  # 1-based, every frame
    ids = {int(r[1]) for r in rows}
    assert len(ids) == 2
    assert all(sum(int(r[1]) == i for r in rows) == walker_clip.frames for i in ids)
    # the still green car is not a person, so not in the file; the boxes follow the walkers
    for row in rows:
        box = np.array([float(v) for v in row[2:6]])
        errors = [np.abs(box - np.array(t)).max() for t in walker_clip.truth(int(row[0])).values()]
        assert min(errors) <= 8, row


def test_events_record_each_crossing_once_with_its_direction(job: tuple[Result, Path]):
    _, work = job
    with sqlite3.connect(work / "out" / "events.db") as db:
        rows = db.execute(
            "SELECT source, app, type, state, track_id, class_name, line, attributes "
            "FROM events WHERE type = 'line_crossing'"
        ).fetchall()
    assert len(rows) == 2
    mot = read_mot(work / "tracks.txt")
    for source, app, _, state, track_id, class_name, line, attributes in rows:
        assert (source, app, state, class_name, line) == (
            "yard",
            "line_crossing",
            "instant",
            "person",
            "gate",
        )
        xs = [float(r[2]) for r in mot if int(r[1]) == track_id]
        moving_left = xs[-1] < xs[0]
        assert json.loads(attributes)["direction"] == ("in" if moving_left else "out")


def test_eval_scores_the_tracks_against_the_truth(job: tuple[Result, Path], walker_clip):
    _, work = job
    gt = work / "gt.txt"
    gt.write_text(
        "".join(
            f"{f},{n},{x},{y},{w},{h},1,-1,-1,-1\n"
            for f in range(1, walker_clip.frames + 1)
            for n, (x, y, w, h) in enumerate(walker_clip.truth(f).values(), 1)
        )
    )
    text = invoke_vigil("eval", "gt.txt", "--mot", "tracks.txt", cwd=work, models=work)
    assert text.returncode == 0, text
    assert text.stdout.split()[:3] == ["HOTA", "DetA", "AssA"], text
    scores = invoke_vigil("eval", "gt.txt", "--mot", "tracks.txt", "--json", cwd=work, models=work)
    assert scores.returncode == 0, scores
    figures = json.loads(scores.stdout)
    assert figures["hota"] > 90  # 100 here: every box within a few pixels
    assert figures["idsw"] == 0
    assert figures["gt_ids"] == figures["pred_ids"] == 2


def test_default_output_dir_and_no_video(vigil: Vigil, tmp_path: Path, synthetic_clip: Path):
    shutil.copy(synthetic_clip, tmp_path / "walkers.mp4")
    result = vigil("run", "walkers.mp4", "--max-frames", "5", "--no-video")
    assert result.returncode == 0, result
    out = tmp_path / "runs" / "walkers"
    assert sorted(p.name for p in out.iterdir()) == ["events.db", "summary.json"]
    assert json.loads((out / "summary.json").read_text())["frames"] == 5
