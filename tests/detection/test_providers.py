"""`detector.device`: ONNX Runtime execution providers picked at start, on the real
onnxruntime installed here (no accelerator on this machine: auto lands on the best present)."""

import numpy as np
import pytest

from vigil.detection.onnx_backend import OnnxDetector
from vigil.detection.providers import AUTO_ORDER, PROVIDER_NAMES, available_devices
from vigil.errors import ConfigError


def test_auto_picks_the_best_available_and_says_why(make_mini_yolox, caplog):
    caplog.set_level("INFO", logger="vigil.detection.providers")
    detector = OnnxDetector(make_mini_yolox(), device="auto")
    best = available_devices()[0]
    assert detector.device_choice.device == best
    assert detector._session.get_providers()[0] == PROVIDER_NAMES[best]
    [line] = [r.getMessage() for r in caplog.records]
    assert f"detector on {best}" in line and "auto, best available of" in line
    assert "tensorrt > cuda > openvino > cpu" in line


def test_cpu_runs_on_the_cpu_provider(make_mini_yolox):
    detector = OnnxDetector(make_mini_yolox(), device="cpu")
    assert detector._session.get_providers() == ["CPUExecutionProvider"]
    assert detector.device_choice.reason == "detector.device is cpu"
    image = np.full((240, 320, 3), 114, np.uint8)
    assert len(detector.detect([image])) == 1


def test_a_missing_provider_is_one_line_naming_the_key_and_what_is_there(make_mini_yolox):
    present = available_devices()
    missing = [d for d in AUTO_ORDER if d not in present]
    if not missing:
        pytest.skip("every execution provider is installed here")
    with pytest.raises(ConfigError) as error:
        OnnxDetector(make_mini_yolox(), device=missing[0])
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith(f"detector.device: {missing[0]!r} is not available")
    assert f"available: {', '.join(present)}" in text
