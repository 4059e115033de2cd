"""Fixtures of the recording tests: synthetic camera streams, encoded once per session."""

from __future__ import annotations

from collections.abc import Callable

import av
import pytest
from recording_helpers import Clip, encode_clip


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Clip]:
    """Clips by kind, encoded once per session: ``h264`` (MP4, no B-frames, like a
    camera), ``h264_bframes`` (MP4 with B-frames), ``h264_raw`` (Annex B elementary
    stream: packets without timestamps), ``hevc`` (skips without libx265)."""
    folder = tmp_path_factory.mktemp("clips")
    made: dict[str, Clip] = {}

    def get(kind: str) -> Clip:
        if kind not in made:
            if kind == "h264":
                made[kind] = Clip(encode_clip(folder / "h264.mp4"), "h264")
            elif kind == "h264_bframes":
                made[kind] = Clip(encode_clip(folder / "b.mp4", bframes=3), "h264")
            elif kind == "h264_raw":
                made[kind] = Clip(encode_clip(folder / "raw.h264", container_format="h264"), "h264")
            elif kind == "hevc":
                if "libx265" not in av.codecs_available:
                    pytest.skip("PyAV is built without libx265")
                made[kind] = Clip(encode_clip(folder / "hevc.mp4", codec="libx265"), "hevc")
            else:
                raise KeyError(kind)
        return made[kind]

    return get
