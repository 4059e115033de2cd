"""`hwaccel`: hardware decoding where a device works, software otherwise. This machine has no
GPU, so what is pinned here is the fallback: the stream still decodes, identically to
software decoding, and `decoder` says which device was refused and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtsp.harness import write_clip
from sources.test_live_source import collect, of
from vigil.sources.hwaccel import AUTO_ORDER
from vigil.sources.items import DecodedFrame, StreamOpened
from vigil.sources.live import LiveSource
from vigil.sources.video import VideoSource


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("hw") / "clip.mp4", 320, 240, seconds=1.0)


def decode(clip: Path, hwaccel: str) -> tuple[list[StreamOpened], list]:
    """What two passes over `clip` give (the second one opens the file again)."""
    source = LiveSource(clip, realtime=False, loop=True, hwaccel=hwaccel)
    try:
        items = collect(source, until=lambda i: isinstance(i, StreamOpened) and i.run > 2)
    finally:
        source.close()
    return of(StreamOpened, items), [f.image for f in of(DecodedFrame, items)]


@pytest.mark.parametrize("hwaccel", ["auto", "vaapi", "cuda"])
def test_without_a_usable_device_the_stream_decodes_in_software_and_says_why(
    clip: Path, hwaccel: str
):
    opened, images = decode(clip, hwaccel)
    decoder = opened[0].decoder
    if not decoder.startswith("software"):
        pytest.skip(f"{decoder} decodes here: nothing falls back")
    tried = AUTO_ORDER if hwaccel == "auto" else (hwaccel,)
    assert decoder.startswith("software (") and all(f"{d}: " in decoder for d in tried)
    assert "\n" not in decoder
    _, reference = decode(clip, "none")
    assert len(images) == len(reference) == 30
    assert all(np.array_equal(a, b) for a, b in zip(images, reference))
    # The next pass (a reconnection) does not try the device again, and still says why.
    assert len(opened) > 1 and {o.decoder for o in opened} == {decoder}


def test_none_is_software_without_trying_a_device(clip: Path):
    opened, _ = decode(clip, "none")
    assert {o.decoder for o in opened} == {"software"}


@pytest.mark.parametrize("hwaccel", ["auto", "cuda"])
def test_vigil_runs_source_falls_back_the_same_way(clip: Path, hwaccel: str):
    source = VideoSource(clip, hwaccel=hwaccel)
    if not source.decoder.startswith("software"):
        pytest.skip(f"{source.decoder} decodes here: nothing falls back")
    assert source.decoder.startswith("software (cuda: ")
    images = [f.image for f in source]
    reference = [f.image for f in VideoSource(clip, hwaccel="none")]
    assert len(images) == len(reference) == 15
    assert all(np.array_equal(a, b) for a, b in zip(images, reference))
    assert source.decoder.startswith("software (cuda: ")  # the decoding pass said the same
