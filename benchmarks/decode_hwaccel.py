"""Decode speed per `hwaccel` setting (none, cuda, vaapi) on one clip, in one run.

Each setting opens the clip through `vigil.sources.hwaccel.open_decoding`, as a camera does,
and decodes every frame to BGR (what analysis takes; a hardware decoder's pictures come back
to system memory for it) and, separately, without the colour conversion. Prints frames per
second and the decoder each setting got (a device that cannot be used says why).

    python benchmarks/decode_hwaccel.py --clip clip-720p.mp4 [--hwaccel cuda --hwaccel none]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import av

from vigil.sources.hwaccel import open_decoding


def decode_fps(clip: Path, hwaccel: str, convert: bool) -> tuple[float, int, str]:
    container, decoder = open_decoding(lambda accel: av.open(str(clip), hwaccel=accel), hwaccel)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    count = 0
    began = time.perf_counter()
    with container:
        for frame in container.decode(stream):
            if convert:
                frame.to_ndarray(format="bgr24")
            count += 1
    return count / (time.perf_counter() - began), count, decoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--hwaccel", action="append", help="repeat [none, cuda, vaapi]")
    args = parser.parse_args()
    print(f"{'hwaccel':<8} {'frames':>6} {'fps':>8} {'fps+bgr':>8}  decoder")
    for hwaccel in args.hwaccel or ["none", "cuda", "vaapi"]:
        raw, count, decoder = decode_fps(args.clip, hwaccel, convert=False)
        bgr, _, _ = decode_fps(args.clip, hwaccel, convert=True)
        print(f"{hwaccel:<8} {count:>6} {raw:>8.1f} {bgr:>8.1f}  {decoder}")


if __name__ == "__main__":
    main()
