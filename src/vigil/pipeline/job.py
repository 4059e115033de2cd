"""`vigil run`: one source through the engine into an annotated video, events, MOT and summary."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil.config.schema import VigilConfig
from vigil.detection.classes import COCO_CLASSES
from vigil.evaluation.motchallenge import MotWriter
from vigil.events.store import EventStore
from vigil.outputs.annotate import Annotator
from vigil.outputs.summary import RunStats, RunSummary
from vigil.outputs.video import VideoWriter
from vigil.pipeline.build import build_engine, class_ids
from vigil.pipeline.engine import FrameResult
from vigil.sources.video import VideoSource

EVENT_BATCH = 50  # events buffered before a database write


@dataclass(frozen=True, slots=True)
class RunOutputs:
    video: Path | None = None
    mot: Path | None = None
    mot_classes: tuple[str, ...] = ("person",)
    summary: Path | None = None
    database: str | None = None


def run_job(
    config: VigilConfig,
    outputs: RunOutputs,
    *,
    max_frames: int | None = None,
    on_frame: Callable[[FrameResult], None] | None = None,
) -> RunSummary:
    """Process `config.source` to the end (or `max_frames`) and write every requested output."""
    source = VideoSource(config.source.url or "", config.source.id, loop=config.source.loop)
    engine, scene = build_engine(config, (source.width, source.height))
    store = EventStore(outputs.database) if outputs.database else None
    mot = MotWriter(outputs.mot, class_ids=class_ids(list(outputs.mot_classes))) if outputs.mot else None
    video = VideoWriter(outputs.video, source.fps, source.width, source.height) if outputs.video else None
    annotator = Annotator(
        COCO_CLASSES,
        {name: np.asarray(z.points, np.float32) for name, z in scene.zones.items()},
        {name: (ln.start, ln.end) for name, ln in scene.lines.items()},
    )
    stats = RunStats(COCO_CLASSES)
    pending = []
    started = time.perf_counter()
    try:
        for result in engine.run(itertools.islice(source, max_frames)):
            stats.update(result.objects, result.frame.pts)
            stats.add_events(result.events)
            pending.extend(result.events)
            if mot:
                mot.write(result.frame.index, result.objects)
            if video:
                counters = {app.name: app.counters() for app in engine.apps}
                video.write(annotator.draw(result.frame.image, result.objects, counters), result.frame.pts)
            if store and len(pending) >= EVENT_BATCH:
                store.add(pending)
                pending.clear()
            if on_frame:
                on_frame(result)
        closing = engine.finish()
        stats.add_events(closing)
        pending.extend(closing)
    finally:
        # Whatever happened, what was processed is kept: events stored, files closed.
        if store and pending:
            store.add(pending)
        for sink in (mot, video, store):
            if sink is not None:
                sink.close()
    wall = time.perf_counter() - started
    written = {
        name: str(path)
        for name, path in (
            ("video", outputs.video),
            ("mot", outputs.mot),
            ("summary", outputs.summary),
            ("database", outputs.database),
        )
        if path
    }
    summary = stats.summary(
        source.url,
        wall_s=wall,
        fps=source.fps,
        counters={app.name: app.counters() for app in engine.apps},
        outputs=written,
    )
    if outputs.summary:
        summary.to_json(outputs.summary)
    return summary
