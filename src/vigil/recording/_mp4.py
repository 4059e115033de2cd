"""MP4 plumbing shared by the segmenter, the recovery and the export: stream copies of a
template, the codec tag browsers want, and a crash-tolerant scan of fragmented MP4 files."""

from __future__ import annotations

import io
import json
import logging
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.container import OutputContainer
from av.video.stream import VideoStream

_log = logging.getLogger(__name__)

#: Journal files (`.mp4.part`): fragmented MP4 written fragment by fragment, each fragment
#: flushed to the file as soon as it is cut, so a killed process leaves every complete
#: fragment readable. `delay_moov` writes the header with the first fragment, so codec
#: parameters that only arrive in-band (H.264/H.265 SPS/PPS in the first keyframe) are known.
JOURNAL_MOVFLAGS = "+frag_keyframe+empty_moov+default_base_moof+delay_moov"
#: Finished files: a regular MP4 with the index (`moov`) before the media data, so a browser
#: starts playing and seeking before it has downloaded the file.
FINAL_MOVFLAGS = "+faststart"

#: Codecs whose MP4 sample-entry tag browsers and Apple players are picky about: H.265 must
#: be `hvc1` (parameter sets in the sample entry), not ffmpeg's default `hev1`.
_BROWSER_TAGS = {"hevc": "hvc1", "h264": "avc1"}


def codec_of(stream: VideoStream) -> str:
    """The codec ("h264", "hevc"), not the implementation: a stream copied as a template
    reports its encoder ("libx264")."""
    return stream.codec_context.codec.canonical_name


#: Key of the container metadata that carries the camera name and the wall-clock start.
METADATA_KEY = "comment"


def open_output(
    path: str | os.PathLike[str],
    template: VideoStream,
    *,
    movflags: str,
    extra_options: dict[str, str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[OutputContainer, VideoStream]:
    """An MP4 output with one stream that copies `template`'s codec parameters."""
    options = {"movflags": movflags, **(extra_options or {})}
    out = av.open(os.fspath(path), mode="w", format="mp4", options=options)
    try:
        stream = copy_stream(out, template)
        if metadata:
            out.metadata[METADATA_KEY] = json.dumps(metadata, sort_keys=True)
    except BaseException:
        out.close()
        raise
    return out, stream


def copy_stream(out: OutputContainer, template: VideoStream) -> VideoStream:
    """A stream in `out` with the codec parameters of `template` (for remuxing)."""
    stream: VideoStream = out.add_stream_from_template(template)
    tag = _BROWSER_TAGS.get(codec_of(template))
    if tag is not None:
        stream.codec_context.codec_tag = tag
    return stream


def parameter_holder(template: VideoStream) -> tuple[OutputContainer, VideoStream]:
    """A private copy of `template`'s codec parameters and time base.

    The copy lives in an output container that is never started (nothing is ever written),
    so it stays valid after the caller closes the input container `template` belongs to.
    """
    holder = av.open(io.BytesIO(), mode="w", format="mp4")
    return holder, copy_stream(holder, template)


@dataclass(slots=True)
class StreamKey:
    """What must match for files to be concatenated into one stream."""

    codec: str
    width: int
    height: int
    extradata: bytes

    @classmethod
    def of(cls, stream: VideoStream) -> StreamKey:
        ctx = stream.codec_context
        return cls(ctx.name, ctx.width, ctx.height, bytes(ctx.extradata or b""))


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems do not sync directories
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- box scan


def complete_prefix(path: Path) -> int:
    """Bytes of `path` that hold whole top-level MP4 boxes ending on a readable boundary.

    A fragmented MP4 cut short by a killed process ends in the middle of a box (usually
    the last `mdat`). The prefix stops before the first incomplete box, and before a `moof`
    whose `mdat` is missing or incomplete; 0 when not even `ftyp` and `moov` are complete.
    """
    size = path.stat().st_size
    good = 0
    offset = 0
    have_moov = False
    pending_moof = False
    with path.open("rb") as f:
        while offset + 8 <= size:
            f.seek(offset)
            header = f.read(16)
            box_size, box_type = struct.unpack(">I4s", header[:8])
            if box_size == 1:
                if len(header) < 16:
                    break
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8 or offset + box_size > size:
                break
            offset += box_size
            if box_type == b"moov":
                have_moov = True
                good = offset
            elif box_type == b"moof":
                pending_moof = True
            elif box_type == b"mdat":
                pending_moof = False
                if have_moov:
                    good = offset
            elif have_moov and not pending_moof:
                good = offset  # e.g. `mfra` or `free` between fragments
    return good if have_moov else 0


def read_metadata(container: Any) -> dict[str, Any]:
    raw = container.metadata.get(METADATA_KEY)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def seconds(ticks: int, time_base: Fraction) -> float:
    return float(ticks * time_base)
