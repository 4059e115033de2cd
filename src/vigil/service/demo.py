"""`vigil demo`: the sample clip as a looping camera of a local site."""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from ruamel.yaml import YAML

from vigil.config.loader import load_config
from vigil.config.site import ServerSettings, SiteConfig
from vigil.errors import VigilError
from vigil.outputs.video import VideoWriter
from vigil.recording.segmenter import RECORDABLE_CODECS
from vigil.service.supervisor import check_api_port
from vigil.sources.video import VideoSource

log = logging.getLogger(__name__)

DEFAULT_VIDEO = Path("data/vtest.avi")  # where ./scripts/quickstart.sh puts the sample clip


def camera_clip(
    video: Path, data_dir: Path, on_transcode: Callable[[Path], None] | None = None
) -> Path:
    """`video` as a camera would send it: H.264 with a keyframe every 2 s.

    Cameras stream H.264 or H.265, which Vigil records without re-encoding; a clip in another
    codec (OpenCV's sample is MS-MPEG-4) is transcoded once into `data_dir` (announced to
    `on_transcode(clip)` first: it takes a while).
    """
    source = VideoSource(video)
    if source.codec in RECORDABLE_CODECS:
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
    video: Path | None,
    data_dir: Path,
    port: int | None = None,
    on_transcode: Callable[[Path], None] | None = None,
) -> SiteConfig:
    """The demo's site, served from its file in `data_dir` (written on the first start).

    The file is written only when absent: from then on it is the user's, edited in place
    by the dashboard or `vigil apps enable`, and a running demo applies edits live like any
    `vigil serve`. `video` (default `DEFAULT_VIDEO`) is read only to write the file; `port`
    overrides the file's for this run.
    """
    data_dir = data_dir.resolve()  # the file names it: valid from any directory
    path = site_file(data_dir)
    if not path.is_file():
        write_site_file(path, video or DEFAULT_VIDEO, data_dir, port, on_transcode)
    elif video is not None:
        log.warning(
            "%s exists: its camera is served, not %s (delete it to start over)", path, video
        )
    site = load_config(path, model=SiteConfig)
    if port is not None:
        site.server.port = port
    return site


def site_file(data_dir: Path) -> Path:
    return data_dir / "site.yaml"


def write_site_file(
    path: Path,
    video: Path,
    data_dir: Path,
    port: int | None,
    on_transcode: Callable[[Path], None] | None = None,
) -> None:
    """The packaged demo site, comments kept, with the camera's clip, the storage directory
    and the port filled in, written atomically to `path`."""
    if not video.is_file():
        raise VigilError(
            f"demo video not found: {video} (run ./scripts/quickstart.sh, or give VIDEO)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    yaml = YAML()  # round trip: the template's comments stay, for the user who edits it
    yaml.width = 4096  # and its layout: one-line zones, indented lists
    yaml.indent(mapping=2, sequence=4, offset=2)
    site = yaml.load(files("vigil.service").joinpath("demo_site.yaml").read_text())
    if port is not None:
        site["server"]["port"] = port
    # `vigil serve` checks it too, but only after the transcoding, which takes a while.
    check_api_port(ServerSettings().host, site["server"]["port"])
    site["cameras"][0]["url"] = str(camera_clip(video, data_dir, on_transcode).resolve())
    site["storage"]["directory"] = str(data_dir)
    partial = path.with_name(path.name + ".part")
    with partial.open("w", encoding="utf-8") as out:
        yaml.dump(site, out)
    partial.replace(path)
