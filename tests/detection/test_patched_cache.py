"""A fixed-shape model is patched and checked once; later starts load the kept patch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vigil.detection.onnx_backend import OnnxDetector

# A start in which `onnx` (needed to patch) cannot be imported: only a kept patch helps it.
WITHOUT_ONNX = """
import sys
sys.modules["onnx"] = None
from vigil.detection.onnx_backend import OnnxDetector
detector = OnnxDetector(sys.argv[1])
print(detector.dynamic, detector.batch_dynamic)
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "vigil" / "models" / "dynamic"


def start_without_onnx(model: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_ONNX, str(model)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def test_patch_is_kept_and_later_starts_skip_patching(make_mini_yolox, cache: Path) -> None:
    model = make_mini_yolox()
    assert start_without_onnx(model) == "False False"  # nothing kept yet: runs as exported
    first = OnnxDetector(model)
    assert first.dynamic and first.batch_dynamic
    assert len(list(cache.glob("*.onnx"))) == 1
    assert start_without_onnx(model) == "True True"
    image = np.zeros((256, 320, 3), np.uint8)
    image[64:160, 96:192] = (255, 0, 0)
    again = OnnxDetector(model)
    [a], [b] = first.detect([image]), again.detect([image])
    np.testing.assert_array_equal(a.xyxy, b.xyxy)


def test_a_damaged_kept_patch_is_made_again(make_mini_yolox, cache: Path) -> None:
    model = make_mini_yolox()
    OnnxDetector(model)
    [kept] = cache.glob("*.onnx")
    kept.write_bytes(b"half a model")
    assert OnnxDetector(model).dynamic
    assert start_without_onnx(model) == "True True"  # rewritten whole
