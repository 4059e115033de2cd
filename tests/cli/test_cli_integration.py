"""The real YOLOX-Nano on the real clip through the real command (skipped without ../shared)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import invoke_vigil, run_vigil

pytestmark = pytest.mark.integration

FRAMES = 60
# frame,id,x,y,w,h,conf,-1,-1,-1 as MotWriter writes it: 2 decimals for boxes, 3 for conf
ROW = re.compile(
    r"(\d+),(\d+),(-?\d+\.\d\d),(-?\d+\.\d\d),(\d+\.\d\d),(\d+\.\d\d),([01]\.\d{3}),-1,-1,-1"
)


@pytest.fixture(scope="module")
def tracked(
    tmp_path_factory: pytest.TempPathFactory, shared_model: Path, shared_clip: Path
) -> Path:
    """`vigil run vtest.avi --max-frames 60 --mot out.txt` with the real model; the workdir."""
    work = tmp_path_factory.mktemp("vtest")
    (work / "vtest.avi").symlink_to(shared_clip)
    result = run_vigil(
        "run",
        "vtest.avi",
        "--max-frames",
        str(FRAMES),
        "--mot",
        "out.txt",
        cwd=work,
        models=shared_model.parent,
    )
    assert result.returncode == 0, result
    assert (work / "runs" / "vtest" / "annotated.mp4").is_file()
    return work


def test_people_are_tracked(tracked: Path):
    rows = (tracked / "out.txt").read_text().splitlines()
    assert rows
    parsed = []
    for row in rows:
        match = ROW.fullmatch(row)
        assert match, f"badly formatted MOT row: {row!r}"
        frame, track, x, y, w, h, conf = match.groups()
        assert 1 <= int(frame) <= FRAMES and int(track) >= 1
        assert float(w) > 0 and float(h) > 0 and 0 < float(conf) <= 1
        # pedestrians in a 768x576 view: taller than wide, inside the picture (give or take)
        assert float(h) > float(w) and -10 < float(x) < 778 and -10 < float(y) < 586, row
        parsed.append((int(frame), int(track)))
    ids = {t for _, t in parsed}
    assert len(ids) >= 3
    assert len(parsed) == len(set(parsed)), "a track id appears twice in one frame"
    # most people are followed for a good while, not re-identified every few frames
    lengths = sorted((sum(t == i for _, t in parsed) for i in ids), reverse=True)
    assert lengths[2] >= FRAMES // 2


def test_eval_prints_hota(tracked: Path, shared_gt: Path):
    # the ground truth covers frames 1-400; score the frames that were tracked
    gt_rows = [r for r in shared_gt.read_text().splitlines() if int(r.split(",")[0]) <= FRAMES]
    (tracked / "gt60.txt").write_text("\n".join(gt_rows) + "\n")
    result = invoke_vigil("eval", "gt60.txt", "--mot", "out.txt", cwd=tracked, models=tracked)
    assert result.returncode == 0, result
    header, values = result.stdout.splitlines()[:2]
    assert header.split()[0] == "HOTA"
    hota = float(values.split()[0])
    assert 30 < hota <= 100, result.stdout  # about 51 with YOLOX-Nano on these 60 frames
