"""`vigil demo`: the sample clip as a looping camera of a local site."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from vigil.config.loader import load_config_text
from vigil.outputs.video import VideoWriter
from vigil.service.config import SiteConfig
from vigil.sources.video import VideoSource

RECORDABLE = {"h264", "hevc"}


def camera_clip(
    video: Path, data_dir: Path, on_transcode: Callable[[Path], None] | None = None
) -> Path:
    """`video` as a camera would send it: H.264 with a keyframe every 2 s.

    Cameras stream H.264 or H.265, which Vigil records without re-encoding; a clip in another
    codec (OpenCV's sample is MS-MPEG-4) is transcoded once into `data_dir` (announced to
    `on_transcode(clip)` first: it takes a while).
    """
    source = VideoSource(video)
    if source.codec in RECORDABLE:
        return video
    clip = data_dir / f"{video.stem}.h264.mp4"
    if clip.is_file() and clip.stat().st_mtime >= video.stat().st_mtime:
        return clip
    if on_transcode is not None:
        on_transcode(clip)
    partial = clip.with_suffix(".part.mp4")
    with VideoWriter(
        partial, source.fps, source.width, source.height, keyframe_seconds=2.0
    ) as writer:
        for frame in source:
            writer.write(frame.image, frame.pts)
    partial.replace(clip)
    return clip


def demo_site(
    video: Path,
    data_dir: Path,
    port: int,
    on_transcode: Callable[[Path], None] | None = None,
) -> SiteConfig:
    text = files("vigil.service").joinpath("demo_site.yaml").read_text()
    site = load_config_text(text, "demo_site.yaml", model=SiteConfig)
    data_dir.mkdir(parents=True, exist_ok=True)
    site.cameras[0].url = str(camera_clip(video, data_dir, on_transcode).resolve())
    site.storage.directory = data_dir
    site.server.port = port
    return site
