"""`vigil run`: one source through the engine into an annotated video, events, MOT and summary."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vigil.apps.base import Scene
from vigil.config.schema import VigilConfig
from vigil.detection.classes import COCO_CLASSES
from vigil.evaluation.motchallenge import MotWriter
from vigil.outputs.annotate import Annotator
from vigil.outputs.summary import RunStats, RunSummary
from vigil.outputs.video import ANALYSIS_ENCODING, BackgroundVideoWriter, VideoWriter
from vigil.pipeline.build import build_engine, class_ids, validate_apps
from vigil.pipeline.engine import FrameResult
from vigil.sources.video import VideoSource

if TYPE_CHECKING:
    from vigil.db.database import Database
    from vigil.events.store import EventStore
    from vigil.forensics.store import TrackStore

EVENT_BATCH = 50  # events buffered before a database write


@dataclass(frozen=True, slots=True)
class RunOutputs:
    """Where one run writes; resolved from the config's `output:` section."""

    directory: Path
    video: Path | None
    mot: Path | None
    mot_classes: set[int] | None
    summary: Path
    database: str  # the apps' events and every track's summary (forensic search, heat maps)

    @classmethod
    def resolve(cls, config: VigilConfig) -> RunOutputs:
        out = config.output
        directory = out.directory or default_directory(config.source.url or "")
        return cls(
            directory=directory,
            video=directory / "annotated.mp4" if out.video else None,
            mot=out.mot,
            mot_classes=class_ids(out.mot_classes),
            summary=directory / "summary.json",
            database=out.database or str(directory / "events.db"),
        )

    def written(self) -> dict[str, str]:
        """What the run writes, by name: the summary's `outputs`."""
        return {
            name: str(path)
            for name, path in (
                ("video", self.video),
                ("mot", self.mot),
                ("summary", self.summary),
                ("database", self.database),
            )
            if path
        }


@dataclass(frozen=True, slots=True)
class RunStores:
    """The run's database: the apps' events and every track's summary."""

    database: Database
    events: EventStore
    tracks: TrackStore


def open_stores(url: str) -> RunStores:
    """Open (create, migrate) the run's database. Imported here, not with this module:
    SQLAlchemy's import and a new file's migrations take ~0.4 s, which `run_job` spends on
    a thread of its own while the first frames are analysed."""
    from vigil.db.database import Database  # noqa: PLC0415 - see above
    from vigil.events.store import EventStore  # noqa: PLC0415
    from vigil.forensics.store import TrackStore  # noqa: PLC0415

    database = Database(url)
    return RunStores(database, EventStore(database), TrackStore(database))


def open_video(path: Path, source: VideoSource, scene: Scene) -> BackgroundVideoWriter:
    """The annotated video's writer: frames are drawn and encoded on its own thread, off the
    analysis path, with settings that spend half the CPU of the default ones for the same
    quality and a larger file (`ANALYSIS_ENCODING`). One encoder thread: the other cores are
    busy with the analysis, and libx264's slice threads would only add their synchronisation
    (on the sample clip, a tenth of the encoding CPU) and a slightly larger file."""
    annotator = Annotator(
        COCO_CLASSES,
        {name: np.asarray(z.points, np.float32) for name, z in scene.zones.items()},
        {name: (ln.start, ln.end) for name, ln in scene.lines.items()},
    )
    writer = VideoWriter(
        path, source.fps, source.width, source.height, encoding=ANALYSIS_ENCODING, threads=1
    )
    return BackgroundVideoWriter(writer, draw=annotator.draw)


@contextmanager
def opencv_pool_off() -> Iterator[None]:
    """OpenCV's own worker pool off for the duration. A run already keeps the cores busy with
    threads of its own (decoding, inferences, encoding), and the pool's workers spin
    (sched_yield) after each call: on the 2-core machine, half a CPU-second per run of the
    sample clip for no gain."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(0)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def default_directory(source: str) -> Path:
    stem = Path(source.split("?")[0].rstrip("/")).stem or "stream"
    return Path("runs") / stem


def run_job(
    config: VigilConfig,
    *,
    max_frames: int | None = None,
    on_frame: Callable[[FrameResult], None] | None = None,
) -> RunSummary:
    """Process `config.source` to the end (or `max_frames`) and write every output.

    Everything that can be checked is checked before any file is written: app settings,
    then the source, then the model.
    """
    outputs = RunOutputs.resolve(config)
    validate_apps(config)
    source = VideoSource(
        config.source.url or "",
        config.source.id,
        loop=config.source.loop,
        hwaccel=config.source.hwaccel,
    )
    engine, scene = build_engine(config, (source.width, source.height))
    outputs.directory.mkdir(parents=True, exist_ok=True)
    mot = MotWriter(outputs.mot, class_ids=outputs.mot_classes) if outputs.mot else None
    video = open_video(outputs.video, source, scene) if outputs.video else None
    stats = RunStats(COCO_CLASSES)
    pending = []
    tracks = []
    started = time.perf_counter()
    with ThreadPoolExecutor(1, thread_name_prefix="vigil-db") as opener, opencv_pool_off():
        opening = opener.submit(open_stores, outputs.database)  # its first use waits for it
        try:
            for result in engine.run(itertools.islice(source, max_frames)):
                if opening.done():
                    opening.result()  # a database that cannot be opened stops the run now
                stats.update(result.objects, result.frame.pts)
                stats.add_events(result.events)
                pending.extend(result.events)
                tracks.extend(result.tracks)
                if mot:
                    mot.write(result.frame.index, result.objects)
                if video:
                    counters = {app.name: app.counters() for app in engine.apps}
                    video.write(result.frame.image, result.frame.pts, result.objects, counters)
                if len(pending) >= EVENT_BATCH:
                    opening.result().events.add(pending)
                    pending.clear()
                if len(tracks) >= EVENT_BATCH:
                    opening.result().tracks.add(tracks)
                    tracks.clear()
                if on_frame:
                    on_frame(result)
            closing = engine.finish()
            stats.add_events(closing)
            pending.extend(closing)
            tracks.extend(engine.finish_tracks())
        finally:
            # Whatever happened, what was processed is kept: events and tracks stored, files
            # closed (each one even when another fails: the video's encoder reports its
            # errors on close, a database that could not be opened is reported last).
            with ExitStack() as sinks:
                for sink in (video, mot):  # closed in reverse order
                    if sink is not None:
                        sinks.callback(sink.close)
                stores = opening.result()
                sinks.callback(stores.database.close)
                if pending:
                    stores.events.add(pending)
                if tracks:
                    stores.tracks.add(tracks)
    wall = time.perf_counter() - started
    summary = stats.summary(
        source.url,
        wall_s=wall,
        fps=source.fps,
        counters={app.name: app.counters() for app in engine.apps},
        outputs=outputs.written(),
    )
    summary.to_json(outputs.summary)
    return summary
