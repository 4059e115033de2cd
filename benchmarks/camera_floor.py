"""The CPU floor of one camera: what a camera must cost, measured, for issue 14's "within
1.5x of the floor" (compare with `service_density.py`'s CPU per camera).

One thread does, on the density benchmark's camera stream (the sample clip as 720p15 H.264,
cached by `service_density.py`), what no camera can do without: decode every frame (PyAV,
one decoder thread, as the live source decodes), run YOLOX-Nano at `--detect-fps` on the
frames due (converted to BGR, letterboxed at the default 320 input: the whole frame, where
motion gating would often send less), and remux every packet into 10 s MP4 segments
without re-encoding. Nothing else: no tracking, apps, motion, live view, IPC, supervisor.
Prints each part's CPU time and the total as % of one core per camera at the stream's rate.

    python benchmarks/camera_floor.py [--seconds 60] [--detect-fps 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
from service_density import FPS, camera_clip

from vigil.config.schema import VigilConfig
from vigil.pipeline.build import build_detector

SEGMENT_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="at least this much stream (whole passes)"
    )
    parser.add_argument("--detect-fps", type=float, default=5.0)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "vigil-bench-cache"
    )
    args = parser.parse_args()
    clip = camera_clip(args.cache)
    detector = build_detector(VigilConfig())
    every = max(1, round(FPS / args.detect_fps))
    spent = {"decode": 0.0, "convert": 0.0, "detect": 0.0, "remux": 0.0}
    frames = 0
    with tempfile.TemporaryDirectory(prefix="vigil-floor-") as scratch:
        out: av.container.OutputContainer | None = None
        segment_start = -SEGMENT_S
        while frames < args.seconds * FPS:  # a raw .h264 file cannot seek: open it again
            with av.open(str(clip)) as container:
                stream = container.streams.video[0]
                stream.codec_context.thread_count = 1
                for packet in container.demux(stream):
                    if packet.size == 0:
                        continue
                    began = time.thread_time()
                    at = frames / FPS
                    if packet.is_keyframe and at - segment_start >= SEGMENT_S:
                        if out is not None:
                            out.close()
                        out = av.open(f"{scratch}/{frames}.mp4", "w")
                        recorded = out.add_stream_from_template(stream)
                        segment_start = at
                    if out is not None:
                        packet.stream = recorded
                        packet.pts = packet.dts = round(at / recorded.time_base)
                        out.mux(packet)
                    spent["remux"] += time.thread_time() - began
                    began = time.thread_time()
                    pictures = stream.decode(packet)
                    spent["decode"] += time.thread_time() - began
                    for picture in pictures:
                        if frames % every == 0:
                            began = time.thread_time()
                            image = picture.to_ndarray(format="bgr24")
                            spent["convert"] += time.thread_time() - began
                            began = time.thread_time()
                            detector.detect([image])
                            spent["detect"] += time.thread_time() - began
                        frames += 1
        if out is not None:
            out.close()
    seconds = frames / FPS
    print(
        f"camera floor: {frames} frames ({seconds:.0f} s of a 720p{FPS} stream),"
        f" detection at {args.detect_fps:g} fps, one thread\n"
    )
    for part, cpu in spent.items():
        print(f"  {part:<8} {cpu:6.2f} CPU-s  {100 * cpu / seconds:5.2f} % of a core")
    total = sum(spent.values())
    print(f"  {'total':<8} {total:6.2f} CPU-s  {100 * total / seconds:5.2f} % of a core per camera")


if __name__ == "__main__":
    main()
