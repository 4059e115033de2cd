"""What motion gating does to speed and to accuracy, measured side by side in one run.

    python benchmarks/motion_gating.py [VIDEO] [GROUND_TRUTH] [-c CONFIG]

Defaults to the PETS09-S2L1 clip and its development ground truth in ../shared. For each
mode (gating on, gating off) the engine runs over the ground truth's frames; the table shows
frames per second, how often the detector was skipped / ran on crops / on the whole frame,
and HOTA / IDF1 / MOTA from TrackEval.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np

from vigil.config.loader import load_config
from vigil.evaluation.mot_eval import evaluate_mot
from vigil.evaluation.motchallenge import MotWriter, read_mot
from vigil.pipeline.build import build_detector, build_engine
from vigil.sources.video import VideoSource

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", default=SHARED / "data" / "vtest.avi", type=Path)
    parser.add_argument(
        "ground_truth", nargs="?", default=SHARED / "eval" / "PETS09-S2L1-dev" / "gt.txt", type=Path
    )
    parser.add_argument("-c", "--config", type=Path)
    args = parser.parse_args()

    config = load_config(args.config)
    config.source.url = str(args.video)
    frames = int(read_mot(args.ground_truth)[:, 0].max())
    source = VideoSource(args.video)
    detector = build_detector(config)
    print(f"{args.video.name}: {frames} frames, detector input ≤ {detector.input_size}\n")
    print(
        f"{'motion gating':<14} {'fps':>7} {'skipped':>8} {'crops':>6} {'full':>6}"
        f" {'HOTA':>6} {'IDF1':>6} {'MOTA':>6}"
    )
    for gating in (True, False):
        engine, _ = build_engine(config, (source.width, source.height), detector, gating=gating)
        full = np.array([0, 0, source.width, source.height], np.float32)
        kinds = []
        with tempfile.TemporaryDirectory() as tmp:
            mot_path = Path(tmp) / "tracks.txt"
            with MotWriter(mot_path, class_ids={0}) as mot:
                start = time.perf_counter()
                for result in engine.run(itertools.islice(VideoSource(args.video), frames)):
                    mot.write(result.frame.index, result.objects)
                    r = result.regions
                    kinds.append(
                        "skip"
                        if len(r) == 0
                        else "full"
                        if len(r) == 1 and np.array_equal(r[0], full)
                        else "crops"
                    )
                fps = frames / (time.perf_counter() - start)
            scores = evaluate_mot(mot_path, args.ground_truth)
        share = {k: kinds.count(k) / len(kinds) for k in ("skip", "crops", "full")}
        print(
            f"{'on' if gating else 'off':<14} {fps:7.1f} {share['skip']:8.0%} {share['crops']:6.0%}"
            f" {share['full']:6.0%} {scores.hota:6.1f} {scores.idf1:6.1f} {scores.mota:6.1f}"
        )


if __name__ == "__main__":
    main()
