#!/usr/bin/python3
"""A GStreamer RTSP server of synthetic live cameras, for tests and benchmarks.

Runs under Debian's /usr/bin/python3 (PyGObject with Gst and GstRtspServer), not under the
project's virtual environment:

    /usr/bin/python3 tests/rtsp/rtsp_server.py --port 8554 \\
        --mount /cam1=codec=h264,width=640,height=360,fps=15 \\
        --mount /cam2=source=file:/tmp/clip.h264 \\
        --mount '/cam3={"codec": "h265", "width": 320, "height": 240}'

Each mount is one camera, given as `key=value` pairs separated by commas, or as a JSON object:

- `source`: `ball` (default; `videotestsrc is-live=true pattern=ball`, a moving ball) or any
  other videotestsrc pattern name (`smpte`, `snow`, ...), encoded live; or `file:PATH`, an H.264
  or H.265 file (Annex-B `.h264`/`.h265`, or any container GStreamer demuxes: MP4, MKV, TS)
  served in a loop **without re-encoding** at its own frame rate (`fps` for files without
  timestamps), paced by the clock like a live camera: near-zero CPU, for density benchmarks.
- `codec`: `h264` (x264enc) or `h265` (x265enc); for files, the file's codec is used.
- `width`, `height`, `fps`: picture size and rate of encoded sources (default 640x360 at 15).
- `bitrate`: kbit/s of encoded sources (default: about 0.1 bit per pixel per frame).
- `gop`: frames between keyframes of encoded sources (default: 2 s worth).
- `share`: mounts with the same `share` name serve ONE pipeline (one encoder, or one file
  feeder) to all their clients, so N cameras cost one encoder; each mount still gets its own
  RTSP session and RTP stream.

Every media is shared between the clients of a mount (`set_shared(True)`); RTP over TCP
(interleaved) and UDP are both allowed; the RTSP socket binds 127.0.0.1 only. Prints `READY`
on stdout once listening (or `ERROR: ...` on stderr and exit code 1); exits cleanly with
code 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import dataclass, field

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

PARSERS = {"h264": "h264parse", "h265": "h265parse"}
PAYLOADERS = {"h264": "rtph264pay", "h265": "rtph265pay"}
ENCODERS = {"h264": "x264enc", "h265": "x265enc"}


@dataclass
class Mount:
    path: str
    source: str = "ball"
    codec: str = "h264"
    width: int = 640
    height: int = 360
    fps: int = 15
    bitrate: int = 0  # kbit/s, 0: derived from the size
    gop: int = 0  # frames, 0: 2 s
    share: str = ""

    @property
    def file(self) -> str | None:
        return self.source[5:] if self.source.startswith("file:") else None


def parse_mount(text: str) -> Mount:
    path, sep, spec = text.partition("=")
    if not sep or not path.startswith("/"):
        raise ValueError(f"--mount wants /PATH=SPEC, got {text!r}")
    if spec.lstrip().startswith("{"):
        values = json.loads(spec)
    else:
        values = {}
        for item in filter(None, spec.split(",")):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"mount {path}: {item!r} is not key=value")
            values[key.strip()] = value.strip()
    mount = Mount(path)
    for key, value in values.items():
        if not hasattr(mount, key) or key == "path":
            raise ValueError(f"mount {path}: unknown key {key!r}")
        setattr(mount, key, type(getattr(mount, key))(value))
    if mount.codec not in PAYLOADERS:
        raise ValueError(f"mount {path}: codec must be h264 or h265, got {mount.codec!r}")
    return mount


# --------------------------------------------------------------------------- encoded sources


def encoder_launch(m: Mount) -> str:
    encoder = ENCODERS[m.codec]
    if Gst.ElementFactory.find(encoder) is None:
        raise RuntimeError(f"GStreamer element {encoder} is not installed")
    bitrate = m.bitrate or max(200, int(m.width * m.height * m.fps * 0.1 / 1000))
    gop = m.gop or 2 * m.fps
    pattern = m.source
    if m.codec == "h264":
        enc = (
            f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} "
            f"bitrate={bitrate} threads=1 ! video/x-h264,profile=constrained-baseline"
        )
    else:
        enc = (
            f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} "
            f"bitrate={bitrate} option-string=pools=1:frame-threads=1 ! video/x-h265,profile=main"
        )
    return (
        f"( videotestsrc is-live=true pattern={pattern} "
        f"! video/x-raw,format=I420,width={m.width},height={m.height},framerate={m.fps}/1 "
        f"! {enc} ! {PAYLOADERS[m.codec]} name=pay0 pt=96 config-interval=1 )"
    )


# --------------------------------------------------------------------------- file sources


@dataclass
class Clip:
    """The access units of a file, read once, in decode order, with their durations."""

    codec: str
    units: list[tuple[bytes, bool]] = field(default_factory=list)  # (data, keyframe)
    durations: list[float] = field(default_factory=list)  # seconds until the next unit


_clips: dict[tuple[str, int], Clip] = {}


def load_clip(path: str, fps: int) -> Clip:
    """Demux and parse `path` into byte-stream access units (GStreamer parsebin)."""
    if (path, fps) in _clips:
        return _clips[(path, fps)]
    pipeline = Gst.Pipeline()
    src = Gst.ElementFactory.make("filesrc")
    src.set_property("location", path)
    parse = Gst.ElementFactory.make("parsebin")
    sink = Gst.ElementFactory.make("appsink")
    sink.set_property("sync", False)
    for element in (src, parse, sink):
        pipeline.add(element)
    src.link(parse)
    found: dict[str, str] = {}

    def pad_added(_bin: Gst.Element, pad: Gst.Pad) -> None:
        name = pad.query_caps(None).get_structure(0).get_name()
        codec = {"video/x-h264": "h264", "video/x-h265": "h265"}.get(name)
        if codec is None or "codec" in found:
            return
        found["codec"] = codec
        parser = Gst.ElementFactory.make(PARSERS[codec])
        caps = Gst.ElementFactory.make("capsfilter")
        caps.set_property(
            "caps", Gst.Caps.from_string(f"video/x-{codec},stream-format=byte-stream,alignment=au")
        )
        parser.set_property("config-interval", -1)  # parameter sets before every keyframe
        for element in (parser, caps):
            pipeline.add(element)
            element.sync_state_with_parent()
        pad.link(parser.get_static_pad("sink"))
        parser.link(caps)
        caps.link(sink)

    parse.connect("pad-added", pad_added)
    pipeline.set_state(Gst.State.PLAYING)
    pts: list[int | None] = []
    units: list[tuple[bytes, bool]] = []
    while True:
        sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
        if sample is None:
            break
        buffer = sample.get_buffer()
        ok, info = buffer.map(Gst.MapFlags.READ)
        units.append((bytes(info.data), not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT)))
        buffer.unmap(info)
        pts.append(None if buffer.pts == Gst.CLOCK_TIME_NONE else buffer.pts)
    bus_error = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if bus_error is not None:
        raise RuntimeError(f"cannot read {path}: {bus_error.parse_error()[0].message}")
    if not units or "codec" not in found:
        raise RuntimeError(f"no H.264/H.265 video in {path}")
    while units and not units[0][1]:  # start on a keyframe, so each loop restarts cleanly
        units.pop(0)
        pts.pop(0)
    clip = Clip(found["codec"], units)
    step = 1.0 / fps
    if all(p is not None for p in pts) and len(set(pts)) == len(pts):
        order = sorted(pts)  # presentation times: durations in presentation order
        rank = {p: i for i, p in enumerate(order)}
        gaps = [(b - a) / Gst.SECOND for a, b in zip(order, order[1:])]
        typical = sorted(gaps)[len(gaps) // 2] if gaps else step
        durations_by_rank = [*gaps, typical]
        clip.durations = [min(max(durations_by_rank[rank[p]], 0.001), 1.0) for p in pts]
    else:
        clip.durations = [step] * len(units)
    _clips[(path, fps)] = clip
    return clip


def file_launch(codec: str) -> str:
    caps = f"video/x-{codec},stream-format=byte-stream,alignment=au"
    return (
        f'( appsrc name=feed is-live=true format=time do-timestamp=true caps="{caps}" '
        f"max-bytes=4000000 ! {PARSERS[codec]} config-interval=-1 "
        f"! {PAYLOADERS[codec]} name=pay0 pt=96 config-interval=1 )"
    )


class Feeder:
    """Pushes a clip's access units into one media's appsrc in real time, looping forever.

    Buffers are timestamped by the pipeline clock when pushed (do-timestamp), and pushed on a
    schedule kept against the monotonic clock (no drift), so clients see a live camera.
    """

    def __init__(self, appsrc: Gst.Element, clip: Clip):
        self.appsrc = appsrc
        self.clip = clip
        self.next = 0
        self.due = time.monotonic()
        self.stopped = False
        GLib.idle_add(self.push)

    def push(self) -> bool:
        if self.stopped:
            return False
        now = time.monotonic()
        if now - self.due > 1.0:  # we were held up (e.g. SIGSTOP): no burst, restart from now
            self.due = now
        while self.due <= now:
            data, key = self.clip.units[self.next]
            buffer = Gst.Buffer.new_wrapped(data)
            buffer.duration = int(self.clip.durations[self.next] * Gst.SECOND)
            if not key:
                buffer.set_flags(Gst.BufferFlags.DELTA_UNIT)
            if self.appsrc.emit("push-buffer", buffer) != Gst.FlowReturn.OK:
                self.stopped = True
                return False
            self.due += self.clip.durations[self.next]
            self.next = (self.next + 1) % len(self.clip.units)
        GLib.timeout_add(max(1, int((self.due - time.monotonic()) * 1000)), self.push)
        return False


# --------------------------------------------------------------------------- server


def loopback_pool() -> GstRtspServer.RTSPAddressPool:
    pool = GstRtspServer.RTSPAddressPool()
    pool.add_range("127.0.0.1", "127.0.0.1", 20000, 60000, 0)  # ttl 0: unicast
    return pool


LOOPBACK_POOL: GstRtspServer.RTSPAddressPool | None = None


class Factory(GstRtspServer.RTSPMediaFactory):
    """A shared media factory; every mount it is added to shares one media (`key`)."""

    def __init__(self, launch: str, key: str, clip: Clip | None):
        super().__init__()
        self.key = key
        self.clip = clip
        self.set_launch(launch)
        self.set_shared(True)
        self.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
        self.set_address_pool(LOOPBACK_POOL)  # RTP/RTCP over UDP: loopback sockets only
        if clip is not None:
            self.connect("media-configure", self.on_media_configure)

    def do_gen_key(self, url: GstRtspServer.RTSPUrl) -> str:  # noqa: ARG002
        return self.key

    def on_media_configure(self, _factory: Factory, media: GstRtspServer.RTSPMedia) -> None:
        appsrc = media.get_element().get_by_name("feed")
        feeder = Feeder(appsrc, self.clip)
        media.connect("unprepared", lambda *_: setattr(feeder, "stopped", True))


def build_factory(mount: Mount) -> Factory:
    key = mount.share or mount.path
    if mount.file is not None:
        clip = load_clip(mount.file, mount.fps)
        return Factory(file_launch(clip.codec), key, clip)
    return Factory(encoder_launch(mount), key, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--mount", action="append", default=[], help="/PATH=SPEC (repeatable)")
    args = parser.parse_args()
    Gst.init(None)
    global LOOPBACK_POOL
    LOOPBACK_POOL = loopback_pool()
    try:
        mounts = [parse_mount(text) for text in args.mount or ["/cam1="]]
        factories: dict[str, Factory] = {}
        server = GstRtspServer.RTSPServer()
        server.set_address(args.address)
        server.set_service(str(args.port))
        points = server.get_mount_points()
        for mount in mounts:
            key = mount.share or mount.path
            if key not in factories:
                factories[key] = build_factory(mount)
            points.add_factory(mount.path, factories[key])
    except (ValueError, RuntimeError, GLib.Error) as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    if server.attach(None) == 0:
        print(f"ERROR: cannot listen on {args.address}:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, loop.quit)

    def cleanup() -> bool:
        server.get_session_pool().cleanup()
        return True

    GLib.timeout_add_seconds(2, cleanup)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
