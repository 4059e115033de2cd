"""Synthetic video for the tests: frames encoded with PyAV."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def write_video(
    path: Path, frames: Iterable[np.ndarray], fps: int = 10, codec: str = "libx264"
) -> Path:
    """Encode BGR frames into `path` with PyAV (by default H.264 yuv420p, lossless)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = None
        for image in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=fps)
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
                if codec == "libx264":
                    stream.options = {"crf": "0", "preset": "ultrafast"}  # lossless
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return path
