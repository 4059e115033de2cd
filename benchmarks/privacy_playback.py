"""What masking costs when recordings are served: a masked 10 s 720p segment and a masked
5-minute export, against the same served unmasked.

The footage: the sample clip (``../shared/data/vtest.avi``) scaled to 1280x720 and recorded
as H.264 segments of ``--segment-seconds`` at ``--fps`` (a keyframe every 2 s, no B-frames,
like a camera), each with stored boxes (`vigil.privacy.boxes`) of ``--objects`` people
walking across the picture, analysed at 5 fps (interpolated in between).

Timed, wall clock and this process's CPU (the machine may be shared: the load average is
printed):

* segment: what ``GET /api/recordings/segments/{id}.mp4`` does on a masked user's first
  request: `vigil.privacy.reencode.masked_stream` (pixelate, whole boxes), a fragmented MP4
  streamed as it is encoded: time to its first byte and to its last; and the masked copy
  as a file (`masked_copy`, what exports make, served only once complete). Unmasked, that
  route serves the file itself (no work), so the baselines are the same decode -> encode
  with nothing to mask, and the remux an export does. ``--before SRC`` also times the
  masked copy of another checkout's ``src`` (e.g. main's), in this same run, for a
  before/after ratio on the same (possibly loaded) machine;
* export: the masked copy of ``--export-minutes`` of consecutive segments, against the
  unmasked export (`vigil.recording.export`: a remux, no frame decoded).

    python benchmarks/privacy_playback.py [--rounds 3] [--objects 10] [--export-minutes 5]
        [--before ../main/src]

(``$VIGIL_SHARED_DIR`` or ``../shared``: where the clip is.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

from vigil.config.privacy import PrivacySettings
from vigil.db.database import Database
from vigil.privacy.boxes import BoxTrack, FrameBoxes, write_boxes
from vigil.privacy.reencode import MaskRequest, Span, masked_copy, masked_stream
from vigil.recording.export import export
from vigil.recording.index import SegmentIndex
from vigil.recording.segments import SegmentInfo

WIDTH, HEIGHT = 1280, 720
ANALYSED_FPS = 5.0
T0 = 1_700_000_000.0
SHARED = Path(os.environ.get("VIGIL_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
CLIP = SHARED / "data" / "vtest.avi"


def record_segment(clip: Path, path: Path, seconds: float, fps: int) -> None:
    """`seconds` of the clip (looped) at 1280x720 as an H.264 segment."""
    with av.open(str(clip)) as source:
        pictures = [
            cv2.resize(f.to_ndarray(format="bgr24"), (WIDTH, HEIGHT))
            for f in source.decode(video=0)
        ]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        gop = 2 * fps
        stream.options = {
            "preset": "veryfast",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0",
        }
        for n in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(pictures[n % len(pictures)], format="bgr24")
            frame.pts = n
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def walking_boxes(seconds: float, objects: int, seed: int = 0) -> BoxTrack:
    """`objects` 60x160 people walking across the picture, seen at `ANALYSED_FPS`."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([0, 0], [WIDTH - 60, HEIGHT - 160], (objects, 2))
    speed = rng.uniform(-40, 40, (objects, 2))  # pixels per second
    frames = []
    for i in range(round(seconds * ANALYSED_FPS)):
        t = i / ANALYSED_FPS
        xy = np.abs((start + t * speed) % [WIDTH - 60, HEIGHT - 160])
        boxes = np.concatenate([xy, xy + [60, 160]], axis=1).astype(np.float32)
        frames.append(FrameBoxes(t, boxes, np.arange(1, objects + 1), ["person"] * objects))
    return BoxTrack.from_frames(frames)


def timed(work: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `rounds` runs."""
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def first_byte_and_last(
    spans: list[Span], request: MaskRequest, rounds: int
) -> tuple[float, float, tuple[float, float]]:
    """Median seconds to the first byte of the masked stream (its header) and to its first
    fragment (the first second of video, playable), and (wall, CPU) to its end."""
    firsts, playables, walls, cpus = [], [], [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        first = playable = None
        for chunk in masked_stream(spans, request):
            first = first or time.perf_counter() - wall
            if playable is None and chunk[4:8] == b"moof":
                playable = time.perf_counter() - wall
        firsts.append(first or 0.0)
        playables.append(playable or 0.0)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return (
        statistics.median(firsts),
        statistics.median(playables),
        (statistics.median(walls), statistics.median(cpus)),
    )


_BEFORE = """
import statistics, sys, time
from pathlib import Path
from vigil.config.privacy import PrivacySettings
from vigil.privacy.reencode import MaskRequest, Span, masked_copy
segment, t0, seconds, rounds = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
request = MaskRequest(PrivacySettings(mask=["person"], mode="pixelate"))
walls, cpus = [], []
for _ in range(rounds):
    wall, cpu = time.perf_counter(), time.process_time()
    masked_copy([Span(segment, t0, t0, t0 + seconds)], segment.with_name("b.mp4"), request)
    walls.append(time.perf_counter() - wall)
    cpus.append(time.process_time() - cpu)
print(statistics.median(walls), statistics.median(cpus))
"""


def before(src: Path, segment: Path, seconds: float, rounds: int) -> tuple[float, float]:
    """(wall, CPU) of the masked copy made by the code in `src` (another checkout)."""
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    argv = [sys.executable, "-c", _BEFORE, str(segment), str(T0), str(seconds), str(rounds)]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    wall, cpu = (float(v) for v in out.split())
    return wall, cpu


def line(name: str, result: tuple[float, float], baseline: tuple[float, float] | None) -> str:
    wall, cpu = result
    ratio = f"  {wall / baseline[0]:6.1f}x" if baseline and baseline[0] > 0 else ""
    return f"  {name:<44} {wall:8.2f} s wall {cpu:8.2f} s CPU{ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--rounds", type=int, default=3, help="segment timings (median)")
    parser.add_argument("--objects", type=int, default=10, help="people in the picture")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--export-minutes", type=float, default=5.0)
    parser.add_argument(
        "--before", type=Path, help="another checkout's src: its masked copy timed too"
    )
    args = parser.parse_args()
    if not args.clip.is_file():
        raise SystemExit(f"{args.clip}: the sample clip is not there (--clip)")
    request = MaskRequest(PrivacySettings(mask=["person"], mode="pixelate"))
    nothing = MaskRequest(PrivacySettings())
    seconds = args.segment_seconds
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        segment = root / "cam" / "segment.mp4"
        segment.parent.mkdir()
        record_segment(args.clip, segment, seconds, args.fps)
        write_boxes(segment, walking_boxes(seconds, args.objects))
        one = [Span(segment, T0, T0, T0 + seconds)]
        print(
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
            f"{WIDTH}x{HEIGHT} H.264 at {args.fps} fps, {args.objects} people"
        )
        print(f"{seconds:g} s segment ({segment.stat().st_size / 1e6:.1f} MB):")
        with Database(f"sqlite:///{root / 'index.db'}") as database:
            index = SegmentIndex(database)
            index.add(SegmentInfo("cam", str(segment), T0, T0 + seconds, segment.stat().st_size))
            remux = timed(
                lambda: export(index, "cam", T0, T0 + seconds, root / "r.mp4"), args.rounds
            )
            plain = timed(lambda: masked_copy(one, root / "p.mp4", nothing), args.rounds)
            old = (
                None if args.before is None else before(args.before, segment, seconds, args.rounds)
            )
            masked = timed(lambda: masked_copy(one, root / "m.mp4", request), args.rounds)
            first, playable, streamed = first_byte_and_last(one, request, args.rounds)
            print(line("unmasked export (remux)", remux, None))
            print(line("decode -> encode, nothing masked", plain, None))
            if old is not None:
                print(line(f"before ({args.before}): masked copy", old, plain))
            print(line("masked copy (a file: exports)", masked, plain))
            print(line("masked stream (playback), to the last byte", streamed, plain))
            print(
                f"  masked stream: first byte after {first:.3f} s, "
                f"first fragment (1 s of video) after {playable:.3f} s"
            )
            if old is not None:
                print(
                    f"  after / before: first byte {first / old[0]:.3f}x, first fragment "
                    f"{playable / old[0]:.3f}x, last byte "
                    f"{streamed[0] / old[0]:.2f}x wall, {streamed[1] / old[1]:.2f}x CPU"
                )
            print(f"  masked segment target <= 2 s: {'met' if streamed[0] <= 2.0 else 'MISSED'}")

            count = max(1, round(args.export_minutes * 60 / seconds))
            for k in range(1, count):
                copy = segment.with_name(f"segment-{k}.mp4")
                shutil.copyfile(segment, copy)
                shutil.copyfile(segment.with_suffix(".boxes"), copy.with_suffix(".boxes"))
                start = T0 + k * seconds
                index.add(
                    SegmentInfo("cam", str(copy), start, start + seconds, copy.stat().st_size)
                )
            spans = [
                Span(Path(s.path), s.start_time, T0, T0 + count * seconds)
                for s in index.between("cam", T0, T0 + count * seconds)
            ]
            end = T0 + count * seconds
            print(f"{count * seconds / 60:g} minute export ({count} segments):")
            remux = timed(lambda: export(index, "cam", T0, end, root / "r.mp4"), 1)
            masked = timed(lambda: masked_copy(spans, root / "m.mp4", request), 1)
            print(line("unmasked export (remux)", remux, None))
            print(line("masked export", masked, remux))
            print(f"  masked export: {count * seconds / masked[0]:.1f}x real time")


if __name__ == "__main__":
    main()
