"""A progress bar for runs on a terminal; silence when output goes to a file or pipe."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from vigil.pipeline.engine import FrameResult
from vigil.sources.video import VideoSource, is_network_url


@contextmanager
def progress_reporter(
    url: str, max_frames: int | None
) -> Iterator[Callable[[FrameResult], None] | None]:
    if not sys.stderr.isatty():
        yield None
        return
    total = max_frames
    if not is_network_url(url):
        known = VideoSource(url).frame_count
        total = min(filter(None, (known, max_frames)), default=None)
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[fps]:.0f} fps · {task.fields[objects]} objects"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("analysing", total=total, fps=0.0, objects=0)
        clock: dict[str, float | None] = {"start": None}

        def on_frame(result: FrameResult) -> None:
            now = time.perf_counter()
            start = clock["start"] = clock["start"] or now
            done = result.frame.index + 1
            fps = done / (now - start) if now > start else 0.0
            bar.update(task, completed=done, fps=fps, objects=len(result.objects))

        yield on_frame
