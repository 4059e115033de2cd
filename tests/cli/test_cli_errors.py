"""Every bad input: exit code 2 and exactly one stderr line ``vigil: error: ...`` naming the
problem (file, key path, value), no traceback, nothing on stdout.

Inputs that reach FFmpeg or ONNX Runtime run the real command in a subprocess, so anything
those libraries print on file descriptor 2 would be caught; the pure-Python cases run in
process (fast). Cases that need a working source and model get the synthetic clip and the
tiny detector, so each one fails for its own reason only.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from cli_helpers import Vigil, assert_one_line_error


@pytest.fixture
def clip(tmp_path: Path, synthetic_clip: Path) -> str:
    """A good video in the working directory, by relative name."""
    shutil.copy(synthetic_clip, tmp_path / "clip.mp4")
    return "clip.mp4"


def write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return name


# --------------------------------------------------------------------------- sources


def test_missing_video_file(vigil_process: Vigil):
    result = vigil_process("run", "missing.mp4")
    assert_one_line_error(result, "video source not found: missing.mp4")


def test_empty_video_file(vigil: Vigil, tmp_path: Path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert_one_line_error(vigil("run", "empty.mp4"), "video source is empty: empty.mp4")


def test_text_file_that_is_not_video(vigil_process: Vigil, tmp_path: Path):
    write(tmp_path, "notes.avi", "these are meeting notes, not a video\n" * 20)
    assert_one_line_error(vigil_process("run", "notes.avi"), "cannot decode video notes.avi")


def test_directory_as_source(vigil: Vigil, tmp_path: Path):
    (tmp_path / "footage").mkdir()
    assert_one_line_error(vigil("run", "footage"), "is a directory", "footage")


def test_unreachable_rtsp_stream(vigil_process: Vigil):
    # Port 9 (discard) on the loopback: nothing listens, so the connection is refused at once.
    line = assert_one_line_error(
        vigil_process("run", "rtsp://127.0.0.1:9/x"), "cannot reach stream rtsp://127.0.0.1:9/x"
    )
    assert line.split("rtsp://127.0.0.1:9/x", 1)[1].strip(": ")  # a reason follows


# --------------------------------------------------------------------------- configuration


def test_config_file_not_found(vigil: Vigil, clip: str):
    assert_one_line_error(vigil("run", clip, "-c", "nope.yaml"), "nope.yaml: file not found")


def test_malformed_yaml(vigil: Vigil, tmp_path: Path, clip: str):
    config = write(tmp_path, "site.yaml", "zones:\n  door:\n    points: [[0.1, 0.1], [0.2, 0.2]\n")
    line = assert_one_line_error(vigil("run", clip, "-c", config), "site.yaml: line ")
    assert "column" in line


def test_polygon_with_two_points(vigil: Vigil, tmp_path: Path, clip: str):
    config = write(tmp_path, "site.yaml", "zones:\n  door:\n    points: [[0.1, 0.1], [0.2, 0.2]]\n")
    assert_one_line_error(
        vigil("run", clip, "-c", config),
        "site.yaml: zones.door.points: polygon needs at least 3 points, got 2",
    )


def test_zero_length_line(vigil: Vigil, tmp_path: Path, clip: str):
    config = write(
        tmp_path, "site.yaml", "lines:\n  gate:\n    start: [0.5, 0.5]\n    end: [0.5, 0.5]\n"
    )
    assert_one_line_error(
        vigil("run", clip, "-c", config), "site.yaml: lines.gate", "zero length", "[0.5, 0.5]"
    )


def test_unknown_config_key(vigil: Vigil, tmp_path: Path, clip: str):
    config = write(tmp_path, "site.yaml", "detector:\n  confidnce: 0.3\n")
    assert_one_line_error(
        vigil("run", clip, "-c", config),
        "site.yaml: detector.confidnce: unknown key (did you mean 'confidence'?)",
    )


LINE = "lines:\n  gate:\n    start: [0.5, 0.0]\n    end: [0.5, 1.0]\n"


def test_app_setting_with_bad_value(vigil: Vigil, tmp_path: Path, clip: str):
    config = write(
        tmp_path,
        "site.yaml",
        LINE
        + "apps:\n  - type: line_crossing\n    settings:\n      line: gate\n      inertia: 0\n",
    )
    assert_one_line_error(
        vigil("run", clip, "-c", config),
        "site.yaml: apps[0].settings.inertia: must be >= 1, got 0",
    )


def test_app_referring_to_unknown_line(vigil: Vigil, tmp_path: Path, clip: str):
    config = write(
        tmp_path, "site.yaml", LINE + "apps:\n  - type: line_crossing\n    settings: {line: door}\n"
    )
    assert_one_line_error(
        vigil("run", clip, "-c", config), "site.yaml: apps[0]", "unknown line 'door'", "gate"
    )


def test_unknown_app_type(vigil: Vigil, tmp_path: Path, clip: str):
    config = write(tmp_path, "site.yaml", "apps:\n  - type: teleport\n")
    line = assert_one_line_error(
        vigil("run", clip, "-c", config), "site.yaml: apps[0]", "unknown app kind 'teleport'"
    )
    assert "line_crossing" in line  # the known kinds are listed


# --------------------------------------------------------------------------- models


def test_missing_model(vigil: Vigil, tmp_path: Path, clip: str):
    empty = tmp_path / "no-models"
    empty.mkdir()
    line = assert_one_line_error(
        vigil("run", clip, models=empty),
        "model 'yolox-nano' not found in",
        str(empty),
        "vigil models pull yolox-nano",
    )
    assert str(tmp_path / "home" / ".cache" / "vigil" / "models") in line  # the cache was searched


def test_model_file_with_garbage_bytes(vigil_process: Vigil, tmp_path: Path, clip: str):
    models = tmp_path / "models"
    models.mkdir()
    rng = random.Random(0)
    (models / "yolox_nano.onnx").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    assert_one_line_error(
        vigil_process("run", clip, models=models),
        str(models / "yolox_nano.onnx"),
        "not a loadable ONNX model",
    )


def test_unknown_model_to_pull(vigil: Vigil):
    assert_one_line_error(
        vigil("models", "pull", "yolo-huge"), "unknown model 'yolo-huge'", "yolox-nano"
    )


# --------------------------------------------------------------------------- eval


def test_eval_with_missing_ground_truth(vigil: Vigil, tmp_path: Path):
    tracks = write(tmp_path, "tracks.txt", "1,1,10,10,20,40,0.9,-1,-1,-1\n")
    assert_one_line_error(
        vigil("eval", "no-gt.txt", "--mot", tracks), "ground truth not found: no-gt.txt"
    )


def test_eval_with_missing_tracks(vigil: Vigil, tmp_path: Path):
    gt = write(tmp_path, "gt.txt", "1,1,10,10,20,40,1,-1,-1,-1\n")
    assert_one_line_error(vigil("eval", gt, "--mot", "none.txt"), "none.txt")


def test_eval_with_malformed_tracks(vigil: Vigil, tmp_path: Path):
    gt = write(tmp_path, "gt.txt", "1,1,10,10,20,40,1,-1,-1,-1\n")
    tracks = write(tmp_path, "tracks.txt", "1,1,10,10,20,40,0.9,-1,-1,-1\nnot a row\n")
    assert_one_line_error(vigil("eval", gt, "--mot", tracks), "tracks.txt:2")


def test_missing_execution_provider(vigil_process: Vigil, tmp_path: Path, clip: str):
    from vigil.detection.providers import AUTO_ORDER, available_devices

    present = available_devices()
    missing = [d for d in AUTO_ORDER if d not in present]
    if not missing:
        pytest.skip("every execution provider is installed here")
    write(tmp_path, "gpu.yaml", f"detector: {{device: {missing[0]}}}\n")
    assert_one_line_error(
        vigil_process("run", clip, "-c", "gpu.yaml"),
        f"gpu.yaml: detector.device: {missing[0]!r} is not available",
        f"available: {', '.join(present)}",
    )


def test_quantize_on_a_missing_clip(vigil: Vigil, tmp_path: Path):
    result = vigil("models", "quantize", "--clip", "gone.mp4", "--output", "q.onnx")
    assert_one_line_error(result, "video source not found: gone.mp4")
    assert not list(tmp_path.glob("q*"))  # no model, no partial file left behind
