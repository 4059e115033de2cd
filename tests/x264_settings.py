"""The settings libx264 used for a video, as it records them in the stream."""

from __future__ import annotations

from pathlib import Path


def x264_settings(path: Path) -> dict[str, str]:
    """The settings libx264 records in the stream (its SEI "x264 - core ... options: ...")."""
    data = path.read_bytes()
    start = data.index(b"options: ") + len(b"options: ")
    text = data[start : data.index(b"\0", start)].decode("ascii")
    return dict(item.split("=", 1) for item in text.split() if "=" in item)
