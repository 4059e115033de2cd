"""`LiveSource`: a camera stream that never gives up, on the wall clock.

One reader thread per source opens the stream with PyAV (RTSP over TCP or UDP, HTTP/MJPEG, or
a local file played like a camera), demuxes and decodes it, and hands the consumer a stream of
items (`vigil.sources.items`) in arrival order through a bounded queue:

- `StreamOpened` when a connection (or a pass over a looped file) delivers its first
  keyframe: the codec parameters (a detached `av` stream, usable as
  `add_stream_from_template`'s template at any time); packet timestamps restart there;
- `Packet` for every video packet from that keyframe on (recording without re-encoding), each
  with pts and dts (filled in where the stream has none); packets the decoder rejects outright
  (the last one, cut short by a lost connection) are left out;
- `DecodedFrame` for every decoded picture: pixels are converted to BGR only for frames that
  are due (every `decode_every`-th) or on demand, so the camera worker pays the conversion only
  for frames it analyses; with `needed_fps`, a stream's non-reference frames (B-frames) are
  not even decoded while its reference frames alone come at least that often;
- `Disconnected` as soon as the stream is lost, and `Gap` once it is back.

Time: every item carries `wall_time`, seconds since the epoch. On a network stream it is the
stream's own timestamps mapped onto the wall clock with the smallest delay seen so far (a
capture-time estimate without network jitter, never later than the arrival), or the arrival
time where the stream has no timestamps of its own (MJPEG over HTTP); on a file it is
the start time plus the position in the file. So events and recordings share one timeline
across reconnects and loops, and frame indexes keep increasing across them.

Failures never end the iteration: the source reconnects forever with exponential backoff
(`state` says "reconnecting", `last_error` says why in one line). A source is "online" only
once pictures decode (a stream of garbage that opens is not), and that clears `last_error`;
data that arrives without a picture decoding for `read_timeout` seconds is reported in
`last_error` as well. Reads stall for at most
`read_timeout` seconds (PyAV's interrupt callback: a hung camera or server raises instead of
blocking). `close()` may be called from any thread (a signal handler): the iteration stops at
once, and the reader thread closes the connection at its next packet or timeout.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import av
import av.container
from av.video.stream import VideoStream

from vigil.errors import SourceError
from vigil.sources.clocks import FileClock, NetworkClock
from vigil.sources.frame import Frame
from vigil.sources.hwaccel import SOFTWARE, HwAccelName, open_decoding
from vigil.sources.items import DecodedFrame, Disconnected, Gap, LiveItem, Packet, StreamOpened
from vigil.sources.urls import redact_url
from vigil.sources.video import is_network_url

SourceState = Literal["connecting", "online", "reconnecting", "ended", "closed"]
Transport = Literal["tcp", "udp"]

#: Open RTSP with almost no probing: the SDP carries the codec parameters (sprop-parameter-sets),
#: and every second spent probing is a second of frames delivered late, in one burst (which
#: also blurs their capture times). Where the SDP lacks them, `RTSP_PROBE_OPTIONS` is used.
RTSP_FAST_OPTIONS = {"probesize": "32", "analyzeduration": "0", "fpsprobesize": "0"}
RTSP_PROBE_OPTIONS = {"analyzeduration": "1000000", "fpsprobesize": "0"}
BACKOFF_FACTOR = 1.5
BACKOFF_JITTER = 0.1  # +-10 %, so cameras that failed together do not retry in lockstep
#: FFmpeg's AVFMT_NOTIMESTAMPS: the demuxer makes its timestamps up (HTTP/MJPEG's "mpjpeg"
#: counts frames at a guessed 25 fps), so arrival is the best capture-time estimate.
AVFMT_NOTIMESTAMPS = 0x0080
NONREF_CHECK_S = 2.0  # stream time after which a connection checks skipping leaves enough
REORDER = 4  # frames: more than H.264/H.265 B-frame reordering delays in practice


# --------------------------------------------------------------------------- the source


class _Lost(Exception):
    """The current connection ended; `args[0]` is the one-line reason."""


_END = object()  # queued when a non-looping file ends


class LiveSource:
    """A reconnecting live video source (see the module doc for the items and the timeline).

    - `url`: rtsp://, rtsps://, http(s):// (MJPEG, HLS, ...) or a local file path.
    - `transport`: RTSP lower transport, "tcp" (interleaved, the robust default) or "udp".
    - `loop`: files restart at their end (without a `Gap`); network streams ignore it.
    - `realtime`: files are paced at their native rate by the wall clock, like a camera
      (None: yes); False reads a file as fast as the consumer takes it.
    - `read_timeout`: seconds without data (or to connect) before the connection is abandoned.
    - `backoff`: (first, longest) delay between reconnection attempts; each failure multiplies
      the delay by 1.5 (+-10 % jitter); it resets once frames flow again. The 5 s cap keeps
      a camera that comes back after a long outage resuming within seconds.
    - `decode_every`: every n-th frame is converted to BGR by the reader thread (`due`);
      0: none (convert on demand only).
    - `needed_fps`: the rate the consumer needs pictures at (the camera's detection rate).
      Where the stream runs at twice that or more, its non-reference frames are skipped by the
      decoder (FFmpeg's skip_frame=NONREF: nothing references them, so the others decode
      as before; packets are all delivered); if after the first `NONREF_CHECK_S` seconds of a
      connection the decoded rate is below `needed_fps`, every frame is decoded again. None:
      decode every frame.
    - `buffer`: items held for the consumer; when it is full the reader waits (TCP then
      pushes back on the sender); at 15 fps, 64 items are about 2 s.
    - `options`: extra FFmpeg options for `av.open`, overriding the defaults.
    - `hwaccel`: decode on a GPU where one can (`vigil.sources.hwaccel`); `decoder` says what
      decodes the current connection. A connection that fell back to software keeps later
      reconnections from trying the device again.

    Iterate it from one thread (or call `get(timeout)` to keep control between items).
    Constructing it starts nothing; the reader thread starts at the first `get`/iteration.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        source_id: str = "cam1",
        *,
        transport: Transport = "tcp",
        loop: bool = False,
        realtime: bool | None = None,
        read_timeout: float = 5.0,
        backoff: tuple[float, float] = (0.5, 5.0),
        decode_every: int = 1,
        needed_fps: float | None = None,
        buffer: int = 64,
        options: Mapping[str, str] | None = None,
        hwaccel: HwAccelName = "none",
    ):
        self.url = str(url)
        self.source_id = source_id
        self.is_network = is_network_url(self.url)
        if transport not in ("tcp", "udp"):
            raise SourceError(f"{source_id}: transport must be tcp or udp, got {transport!r}")
        if read_timeout <= 0:
            raise SourceError(f"{source_id}: read_timeout must be > 0, got {read_timeout}")
        if not 0 < backoff[0] <= backoff[1]:
            raise SourceError(
                f"{source_id}: backoff must be (first, longest), 0 < first <= longest"
            )
        if decode_every < 0:
            raise SourceError(f"{source_id}: decode_every must be >= 0, got {decode_every}")
        if not self.is_network:
            path = Path(self.url)
            if not path.is_file():
                raise SourceError(f"video source not found: {self.url}")
            if path.stat().st_size == 0:
                raise SourceError(f"video source is empty: {self.url}")
        self.transport: Transport = transport
        self.loop = loop
        self.realtime = True if realtime is None else realtime
        self.read_timeout = float(read_timeout)
        self.backoff = (float(backoff[0]), float(backoff[1]))
        self.decode_every = decode_every
        self.needed_fps = needed_fps
        #: Whether the current connection skips decoding non-reference frames.
        self.skipping_nonref = False
        self.options = dict(options or {})
        self.hwaccel = hwaccel
        #: What decodes the stream: "cuda", "vaapi", "software" or "software (why not)".
        self.decoder = SOFTWARE
        self._hardware_refused = False

        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, buffer))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._finished = False  # the consumer saw the end
        self._state: SourceState = "connecting"
        self._fast_probe = True
        #: The last error, one line; None again once pictures decode.
        self.last_error: str | None = None
        #: Successful reconnections after the stream was lost.
        self.reconnects = 0
        #: Failed connection attempts (the first connection's included).
        self.connect_failures = 0
        self.frames_decoded = 0
        self.packets_received = 0
        #: Packets the decoder rejected (not yielded): cut short or damaged in transit.
        self.packets_rejected = 0
        self.bytes_received = 0
        self._index = 0

    # ------------------------------------------------------------------ consumer side

    @property
    def state(self) -> SourceState:
        """connecting (first attempt), online (pictures decode), reconnecting (lost, or
        failed to connect: retrying), ended (a file without `loop`), closed."""
        return "closed" if self._stop.is_set() else self._state

    @property
    def backlog(self) -> int:
        """Items received but not consumed yet."""
        return self._queue.qsize()

    @property
    def display_url(self) -> str:
        """The URL without its password (for logs, errors and the API)."""
        return redact_url(self.url)

    def start(self) -> LiveSource:
        """Start the reader thread (done by the first `get` or iteration anyway)."""
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name=f"vigil-live-{self.source_id}", daemon=True
                )
                self._thread.start()
        return self

    def get(self, timeout: float | None = None) -> LiveItem | None:
        """The next item, or None when none came within `timeout` seconds (None: wait) or the
        source is finished (file ended, or closed; see `finished`)."""
        if self._finished:
            return None
        self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stop.is_set():
            wait = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if wait <= 0:
                return None
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                continue
            if item is _END:
                self._finished = True
                return None
            return item  # type: ignore[return-value]
        self._finished = True
        return None

    @property
    def finished(self) -> bool:
        """True once `get` has returned the end (file ended or source closed)."""
        return self._finished

    def __iter__(self) -> Iterator[LiveItem]:
        while True:
            item = self.get()
            if item is None:
                return
            yield item

    def frames(self) -> Iterator[Frame]:
        """Only the decoded frames, as engine `Frame`s (tests, simple consumers)."""
        for item in self:
            if isinstance(item, DecodedFrame):
                yield item.to_frame()

    def close(self, timeout: float = 1.0) -> None:
        """Stop: iteration ends at once; waits up to `timeout` s for the reader thread (which
        closes the connection at its next packet, or after `read_timeout` at worst)."""
        self._stop.set()
        self._state = "closed"
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reader thread

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Lost("closed")

    def _retry_wait(self, delay: float) -> float:
        """Wait `delay` (with jitter) or until closed; return the next delay."""
        self._stop.wait(delay * random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER))
        return min(delay * BACKOFF_FACTOR, self.backoff[1])

    def _run(self) -> None:
        delay = self.backoff[0]
        runs = 0  # connections (or passes over a file) opened so far
        lost_at: float | None = None  # wall time of the last packet before a loss
        lost_reason = ""
        file_clock = None if self.is_network else FileClock(self.realtime, self._stop)
        while not self._stop.is_set():
            try:
                container = self._open()
            except _Lost as exc:
                self.connect_failures += 1
                self.last_error = str(exc)
                self._state = "reconnecting"
                delay = self._retry_wait(delay)
                continue
            runs += 1
            if runs > 1 and self.is_network:
                self.reconnects += 1
            session = _Session(self, container, runs, file_clock, lost_at, lost_reason)
            try:
                session.pump()
                reason = ""
            except _Lost as exc:
                reason = str(exc)
            except Exception as exc:  # a bug or a PyAV surprise must not kill the camera
                reason = (
                    f"unexpected {type(exc).__name__}: {describe_error(exc, self.read_timeout)}"
                )
            finally:
                container.close()
            if self._stop.is_set():
                break
            if session.frames:
                delay = self.backoff[0]  # frames flowed: the backoff starts over
            if session.packets:
                lost_at = None  # the Gap, if any, was delivered
            if file_clock is not None and not reason:  # a file's pass ended normally
                if session.frames == 0:
                    self.last_error = f"{self.display_url}: no frames could be decoded"
                if not self.loop:
                    self._state = "ended"
                    with contextlib.suppress(_Lost):
                        self._put(_END)
                    return
                if session.frames == 0:  # do not spin on a file without frames
                    self._state = "reconnecting"
                    delay = self._retry_wait(delay)
                file_clock.new_pass(session.step)
                continue
            # a lost network stream, or an unreadable file: report it, then reconnect
            reason = reason or "end of stream"
            if session.started:
                lost_at, lost_reason = session.last_wall, reason
                try:
                    self._put(Disconnected(session.last_wall, reason))
                except _Lost:
                    break
            self.last_error = f"{self.display_url}: {reason}"
            self._state = "reconnecting"
            delay = self._retry_wait(delay)
        self._state = "closed"

    def _open(self) -> av.container.InputContainer:
        container = self._open_once()
        if self._fast_probe and not _has_parameters(container.streams.video[0]):
            container.close()  # the SDP did not describe the stream: probe the packets
            self._fast_probe = False
            container = self._open_once()
        return container

    def _open_once(self) -> av.container.InputContainer:
        options: dict[str, str] = {}
        scheme = urlparse(self.url).scheme.lower()
        if scheme in ("rtsp", "rtsps"):
            options = dict(RTSP_FAST_OPTIONS if self._fast_probe else RTSP_PROBE_OPTIONS)
            options["rtsp_transport"] = self.transport
            # socket I/O timeout (µs), a backstop: the interrupt callback (read_timeout) fires
            # first and says what happened ("no data"), where this one says "Invalid data"
            options["timeout"] = str(int(2 * self.read_timeout * 1e6))
        elif self.is_network:
            options = {"rw_timeout": str(int(2 * self.read_timeout * 1e6))}
        options.update(self.options)
        started = time.monotonic()
        try:
            container, decoder = open_decoding(
                lambda accel: av.open(
                    self.url,
                    options=options,
                    timeout=(self.read_timeout, self.read_timeout),
                    hwaccel=accel,
                ),
                "none" if self._hardware_refused else self.hwaccel,
            )
        except Exception as exc:  # av errors, OSError, and whatever a protocol raises
            if time.monotonic() - started >= 0.95 * self.read_timeout:
                # the interrupt callback fired; RTSP reports it as "Invalid data"
                reason = f"no response for {self.read_timeout:g} s (stalled or unreachable)"
            else:
                reason = describe_error(exc, self.read_timeout)
            raise _Lost(f"{self.display_url}: {reason}") from None
        if not container.streams.video:
            container.close()
            raise _Lost(f"{self.display_url}: no video stream")
        if not self._hardware_refused:  # else `decoder` still says why the device was not used
            self.decoder = decoder
            self._hardware_refused = decoder != SOFTWARE and decoder.startswith(SOFTWARE)
        return container


class _Session:
    """One connection (or one pass over a file): demux, decode, timestamp, queue."""

    def __init__(
        self,
        source: LiveSource,
        container: av.container.InputContainer,
        run: int,
        file_clock: FileClock | None,
        lost_at: float | None,
        lost_reason: str,
    ):
        self.source = source
        self.container = container
        self.run = run
        self.file_clock = file_clock
        self.net_clock = NetworkClock()
        self.lost_at = lost_at
        self.lost_reason = lost_reason
        self.stream = container.streams.video[0]
        self.stream.codec_context.thread_count = 1  # no frame-thread delay; cameras run in parallel
        self.time_base = self.stream.time_base or Fraction(1, 90000)
        #: Timestamps invented by the demuxer (MJPEG over HTTP): frames are timed on arrival.
        self.untimed = file_clock is None and bool(container.format.flags & AVFMT_NOTIMESTAMPS)
        rate = self.stream.guessed_rate or self.stream.average_rate  # raw .h264: average 25
        self.fps = float(rate) if rate and not self.untimed else None
        self.step = 1.0 / self.fps if self.fps else 1.0 / 25
        self.step_ticks = max(1, round(self.step / self.time_base))
        # B-frames: decode times run behind presentation times, and RTSP's first packets
        # have none; theirs are put `REORDER` frames behind, below those given later.
        has_b_frames = self.stream.codec_context.has_b_frames
        self.reorder_ticks = REORDER * self.step_ticks if has_b_frames else 0
        #: While non-reference frames are skipped and the decoded rate not checked yet: the
        #: capture time of the connection's first packet (0.0 before it).
        self.nonref_since: float | None = None
        source.skipping_nonref = False
        if source.needed_fps and self.fps and self.fps >= 2 * source.needed_fps:
            self.stream.codec_context.skip_frame = "NONREF"
            source.skipping_nonref = True
            self.nonref_since = 0.0
        self.started = False  # a keyframe arrived: packets and frames flow
        self.opened = time.monotonic()
        self.undecodable = False  # data came for `read_timeout` s, no picture: reported
        self.frames = 0
        self.packets = 0
        self.last_wall = time.time()
        self.last_dts: int | None = None
        self.last_duration = 0
        self.pending: tuple[av.Packet, float] | None = None  # a first packet without timestamps
        self.packet_walls: dict[int, float] = {}  # pts -> wall time, for the frames

    def _seconds(self, ts: int | None) -> float | None:
        return None if ts is None else float(ts * self.time_base)

    def pump(self) -> None:
        try:
            for packet in self.container.demux(self.stream):
                if self.source._stop.is_set():
                    raise _Lost("closed")
                if packet.size:  # size 0: the demuxer's flush packet at the end
                    self._receive(packet, time.time())
                    if not self.frames and not self.undecodable:
                        self._check_decoding()
        except av.FFmpegError as exc:
            if self.file_clock is None or not self.frames:
                raise _Lost(describe_error(exc, self.source.read_timeout)) from None
            # a damaged file tail ends the pass; the frames before it were delivered
        if self.file_clock is None:
            raise _Lost("the server ended the stream")
        if self.pending is not None:
            packet, arrival = self.pending
            self.pending = None
            packet.pts = packet.dts = (
                0 if self.last_dts is None else self.last_dts + self.step_ticks
            )
            self._emit(packet, arrival)
        with contextlib.suppress(av.FFmpegError):  # the end of a pass: flush the decoder
            for frame in self.stream.codec_context.decode(None):
                self._frame(frame, time.time())

    def _check_decoding(self) -> None:
        """Say so when data has been arriving for `read_timeout` s and no picture decoded:
        a garbage stream, or one in a codec or form this FFmpeg cannot decode."""
        source = self.source
        if time.monotonic() - self.opened >= source.read_timeout:
            self.undecodable = True
            source.last_error = (  # the same text every time: logged once, not per attempt
                f"{source.display_url}: data arrives, but no picture decoded "
                f"in {source.read_timeout:g} s"
            )

    def _receive(self, packet: av.Packet, arrival: float) -> None:
        """Fill in missing timestamps (the first packet of an RTSP session has none; raw
        .h264 files have none at all), so every `Packet` can be muxed as it is."""
        if not self.started:
            if not packet.is_keyframe:
                return  # nothing decodes before the first keyframe; recordings start on one
            self.started = True
        if packet.dts is None and packet.pts is not None:
            packet.dts = packet.pts - self.reorder_ticks
        if packet.pts is None:
            if self.last_dts is None and self.pending is None:
                self.pending = (packet, arrival)  # wait for the next one to place it
                return
            if self.last_dts is None:  # neither has timestamps: start the timeline at 0
                first, first_arrival = self.pending  # type: ignore[misc]
                first.pts = first.dts = 0
                self.pending = None
                self._emit(first, first_arrival)
            if packet.dts is None:
                assert self.last_dts is not None
                packet.dts = self.last_dts + (self.last_duration or self.step_ticks)
            packet.pts = packet.dts
        assert packet.dts is not None  # filled in above, from pts or from the previous packet
        if self.pending is not None:
            first, first_arrival = self.pending
            self.pending = None
            step = first.duration or packet.duration or self.step_ticks
            first.pts, first.dts = packet.pts - step, packet.dts - step
            self._emit(first, first_arrival)
        self._emit(packet, arrival)

    def _emit(self, packet: av.Packet, arrival: float) -> None:
        source = self.source
        pts = self._seconds(packet.pts)
        if self.file_clock is not None:
            wall = self.file_clock.at(pts, self.file_clock.position + self.step)
            arrival = max(arrival, wall)
        else:
            wall = self.net_clock.packet(None if self.untimed else pts, arrival)
        if self.packets == 0:
            if self.lost_at is not None:
                source._put(Gap(self.lost_at, wall, self.lost_reason))
            source._put(self._opened(wall))
        self.packets += 1
        self.last_dts = packet.dts
        self.last_duration = packet.duration or 0
        if packet.duration:
            self.step = float(packet.duration * self.time_base)
        source.packets_received += 1
        source.bytes_received += packet.size
        self.last_wall = wall
        if packet.pts is not None:
            self.packet_walls[packet.pts] = wall
            if len(self.packet_walls) > 64:
                self.packet_walls.pop(next(iter(self.packet_walls)))
        try:
            frames = packet.decode()
        except av.FFmpegError:
            # The decoder rejects it outright: cut short by a lost connection, or mangled by
            # lost datagrams. It is not recorded either; decoding recovers at the next keyframe.
            source.packets_rejected += 1
            return
        source._put(Packet(packet, wall, self.run))
        for frame in frames:
            self._frame(frame, arrival)
        if self.nonref_since is not None:
            self._check_nonref(wall)

    def _check_nonref(self, wall: float) -> None:
        """`NONREF_CHECK_S` into the connection (on the stream's own clock, whatever rate it
        declares): decode every frame again if the reference frames alone come too rarely."""
        if not self.nonref_since:
            self.nonref_since = wall
            return
        seconds = wall - self.nonref_since
        if seconds < NONREF_CHECK_S:
            return
        self.nonref_since = None
        assert self.source.needed_fps is not None
        if self.frames / seconds < self.source.needed_fps:
            self.stream.codec_context.skip_frame = "DEFAULT"
            self.source.skipping_nonref = False

    def _frame(self, frame: av.VideoFrame, arrival: float) -> None:
        source = self.source
        if frame.pts is not None and frame.pts in self.packet_walls:
            wall = self.packet_walls[frame.pts]
        elif self.file_clock is not None:
            wall = self.file_clock.at(self._seconds(frame.pts), self.file_clock.position)
        else:
            wall = self.net_clock.frame(self._seconds(frame.pts), arrival)
        if not self.frames:  # up once pictures decode, not when the connection opens
            source._state = "online"
            source.last_error = None
        index = source._index
        due = source.decode_every > 0 and index % source.decode_every == 0
        image = frame.to_ndarray(format="bgr24") if due else None
        source._put(DecodedFrame(source.source_id, index, wall, frame, due, image))
        source._index += 1
        source.frames_decoded += 1
        self.frames += 1

    def _opened(self, wall: float) -> StreamOpened:
        ctx = self.stream.codec_context
        return StreamOpened(
            detached_template(self.stream),
            ctx.name,
            int(ctx.width or 0),
            int(ctx.height or 0),
            self.fps,
            wall,
            self.run,
            self.source.decoder,
        )


# --------------------------------------------------------------------------- helpers


def detached_template(stream: VideoStream) -> VideoStream:
    """A copy of `stream`'s codec parameters in a private, never-written output container:
    valid after the input container is closed, usable as `add_stream_from_template`'s
    template."""
    holder = av.open(io.BytesIO(), "w", format="matroska")  # holds any codec
    return holder.add_stream_from_template(stream)


def _has_parameters(stream: VideoStream) -> bool:
    """Whether `stream` has what decoding and remuxing need (size; H.264/5 parameter sets)."""
    ctx = stream.codec_context
    if not ctx.width or not ctx.height:
        return False
    return ctx.name not in ("h264", "hevc") or bool(ctx.extradata)


def describe_error(exc: BaseException, read_timeout: float) -> str:
    """One line naming what went wrong with a stream."""
    if isinstance(exc, av.ExitError):
        return f"no data for {read_timeout:g} s (stalled or unreachable)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split()) or type(exc).__name__
