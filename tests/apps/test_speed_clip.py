"""Speed on a synthetic clip with known ground speeds, through the whole engine with the real
model: a person cut from the sample clip walks (5 km/h) or runs (14 km/h) across an empty
view of the same scene, along a calibrated ground whose homography the test chose, sized by
the perspective at each step. `speeding` and the track summaries must report the speed the
clip was made with, within 10 %."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from clips import write_video
from vigil.config.loader import load_config_text
from vigil.detection.onnx_backend import OnnxDetector
from vigil.geometry import GroundPlane
from vigil.pipeline.job import run_job

pytestmark = pytest.mark.integration

FPS = 15
IMAGE = ((60.0, 570.0), (720.0, 570.0), (560.0, 260.0), (230.0, 260.0))  # the ground quad
GROUND = ((0.0, 0.0), (8.0, 0.0), (8.0, 20.0), (0.0, 20.0))  # metres
PLANE = GroundPlane(IMAGE, GROUND)
PERSON_M = 1.75


def empty_scene(clip: Path) -> np.ndarray:
    """The median of frames spread over the clip: the walkway without its walkers."""
    with av.open(str(clip)) as container:
        frames = [
            f.to_ndarray(format="bgr24")
            for i, f in enumerate(container.decode(video=0))
            if i % 16 == 0
        ]
    return np.median(np.stack(frames), axis=0).astype(np.uint8)


def person_sprite(clip: Path, model: Path, scene: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The most confident person of the clip's first frame and the mask of its own pixels
    (where it differs from the empty `scene`), so that only the person is pasted."""
    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="bgr24")
    found = OnnxDetector(model, classes={0}, threads=1).detect([frame])[0]
    x1, y1, x2, y2 = found.xyxy[int(np.argmax(found.confidence))].round().astype(int)
    box = (slice(max(0, y1 - 2), y2 + 2), slice(max(0, x1 - 2), x2 + 2))
    difference = np.abs(frame[box].astype(np.int16) - scene[box].astype(np.int16)).sum(axis=2)
    mask = cv2.morphologyEx(
        (difference > 45).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)
    )
    return frame[box].copy(), mask


def to_image(point: tuple[float, float]) -> np.ndarray:
    p = np.linalg.inv(PLANE.matrix) @ np.array([point[0], point[1], 1.0])
    return p[:2] / p[2]


def walk_clip(
    path: Path, scene: np.ndarray, sprite: tuple[np.ndarray, np.ndarray], kmh: float
) -> Path:
    """The sprite walking from (1.5, 1) m towards (6.5, 18) m at `kmh`, then 1 s of empty scene."""
    start, end = np.array([1.5, 1.0]), np.array([6.5, 18.0])
    heading = (end - start) / np.linalg.norm(end - start)
    metres_per_frame = kmh / 3.6 / FPS
    frames = []
    for i in range(int(np.linalg.norm(end - start) / metres_per_frame)):
        ground = start + heading * metres_per_frame * i
        foot = to_image(tuple(ground))
        # pixels per metre across the view here: a person is PERSON_M of that tall
        across = np.linalg.norm(
            to_image(tuple(ground + [0.5, 0])) - to_image(tuple(ground - [0.5, 0]))
        )
        height = max(24, int(round(PERSON_M * across)))
        pixels, mask = sprite
        width = max(8, int(round(height * pixels.shape[1] / pixels.shape[0])))
        body = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_LINEAR)
        inside = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
        image = scene.copy()
        x0, y0 = int(round(foot[0] - width / 2)), int(round(foot[1] - height))
        image[y0 : y0 + height, x0 : x0 + width][inside] = body[inside]
        frames.append(image)
    frames += [scene.copy()] * FPS
    write_video(path, frames, FPS)
    return path


CONFIG = """\
source: {{url: {clip}}}
zones:
  ground: {{points: {points}, ground: {ground}}}
apps:
  - {{type: speeding, settings: {{zone: ground, classes: [person], limit: 1, min_seconds: 0.5}}}}
output: {{directory: {out}, video: false}}
"""


@pytest.mark.parametrize("kmh", [5.0, 14.0])
def test_speeds_on_a_synthetic_clip_are_within_ten_percent(
    kmh: float, shared_clip: Path, shared_model: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(shared_model.parent))
    scene = empty_scene(shared_clip)
    clip = walk_clip(
        tmp_path / "walk.mp4",
        scene,
        person_sprite(shared_clip, shared_model, scene),
        kmh,
    )
    out = tmp_path / "out"
    text = CONFIG.format(
        clip=clip, out=out, points=[list(p) for p in IMAGE], ground=[list(p) for p in GROUND]
    )
    run_job(load_config_text(text))
    with sqlite3.connect(out / "events.db") as db:
        events = db.execute("select attributes from events where type = 'speeding'").fetchall()
        tops = [
            r[0] for r in db.execute("select speed_kmh from tracks where speed_kmh is not null")
        ]
    speeds = [json.loads(row[0])["speed_kmh"] for row in events]
    print(f"{kmh} km/h: speeding events {speeds}, track top speeds {tops}")
    assert speeds, "the walker was not reported"
    assert all(abs(s - kmh) / kmh <= 0.10 for s in speeds)
    assert tops and all(abs(t - kmh) / kmh <= 0.15 for t in tops)
