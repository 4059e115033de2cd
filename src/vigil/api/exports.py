"""Exports of recordings as background jobs: start one, watch its progress, download it.

Cutting an hour of footage copies hundreds of megabytes of packets; done inside a request,
it holds one of the API's threads (and the client's connection) for as long. Here a job runs
on a thread of its own (`MAX_RUNNING` copy at once, more wait their turn): ``POST
/api/recordings/exports`` answers at once with the job, ``GET .../exports/{id}`` reports its
progress, and ``GET .../exports/{id}/file`` downloads the MP4 once it is done. Finished files
are kept `KEEP_S` (a download may be repeated), then deleted with their job.

A job belongs to the user who started it: nobody else sees it.

For a principal the camera's privacy policy serves masked footage, an export (and a segment,
a clip) is a masked copy (`masked_exporter`): decoded, masked with the stored boxes, encoded
again, far slower than the plain copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from vigil.api.privacy import PrivacyView
from vigil.errors import VigilError
from vigil.privacy.reencode import MaskRequest, Span, masked_copy

__all__ = [
    "KEEP_S",
    "MAX_RUNNING",
    "ExportJob",
    "ExportJobs",
    "Exporter",
    "TooManyExports",
    "export_errors",
    "exported",
    "masked_exporter",
    "masking_key",
    "temp_path",
    "unlink",
]

MAX_RUNNING = 2  # exports that copy packets at once (each is disk-bound)
KEEP_S = 3600.0  # how long a finished export (file or error) is kept
MAX_UNFINISHED = 16  # exports queued or running at once, all users together

#: Writes one export to the path given, calling the progress function with 0..1 as it goes;
#: returns the file it wrote. Raises `LookupError`/`ValueError`/a recording error when there
#: is no footage (the job fails with its message).
Exporter = Callable[[Path, Callable[[float], None]], Path]
JobState = Literal["queued", "running", "done", "failed"]


class TooManyExports(VigilError):
    """`MAX_UNFINISHED` exports are queued or running: try again when one is done."""


@dataclass
class ExportJob:
    id: str
    owner: str
    camera: str
    start: float
    end: float
    state: JobState = "queued"
    progress: float = 0.0  # 0..1
    error: str | None = None
    failure: Exception | None = None  # what ended a failed job (its kind sets the status)
    path: Path | None = None
    finished_at: float | None = None
    created_at: float = field(default_factory=time.time)
    #: What a subject-access export exported and why (filled when it is done), else None.
    record: dict[str, Any] | None = None


class ExportJobs:
    """The export jobs of one API; files under `directory`."""

    def __init__(self, directory: Path, max_running: int = MAX_RUNNING) -> None:
        self.directory = directory
        self._slots = threading.BoundedSemaphore(max_running)
        self._lock = threading.Lock()
        self._jobs: dict[str, ExportJob] = {}

    def start(
        self, owner: str, camera: str, start: float, end: float, exporter: Exporter
    ) -> ExportJob:
        """A new job of `owner`, queued to run `exporter`; `TooManyExports` when
        `MAX_UNFINISHED` are already waiting or running."""
        self._forget_old()
        job = ExportJob(uuid.uuid4().hex, owner, camera, start, end)
        with self._lock:
            unfinished = sum(j.finished_at is None for j in self._jobs.values())
            if unfinished >= MAX_UNFINISHED:
                raise TooManyExports(
                    f"{unfinished} exports are waiting or running: try again when one is done"
                )
            self._jobs[job.id] = job
        # A daemon thread: a stopping service does not wait for an hour-long copy (its
        # temporary file is swept later).
        threading.Thread(target=self._run, args=(job, exporter), daemon=True).start()
        return job

    def get(self, job_id: str, owner: str) -> ExportJob | None:
        """The job, if `owner` started it."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None

    def discard(self, job: ExportJob) -> None:
        """Forget a finished job and delete its file (it was downloaded once, for good)."""
        with self._lock:
            self._jobs.pop(job.id, None)
        if job.path is not None:
            unlink(job.path)

    def _run(self, job: ExportJob, exporter: Exporter) -> None:
        with self._slots:  # queued until one of the `max_running` slots is free
            self._export(job, exporter)

    def _export(self, job: ExportJob, exporter: Exporter) -> None:
        out = temp_path(self.directory)  # swept with the other temporary files if forgotten
        job.state = "running"

        def progress(fraction: float) -> None:
            job.progress = min(1.0, max(job.progress, float(fraction)))

        try:
            path = exporter(out, progress)
        except Exception as err:  # noqa: BLE001 - any failure ends the job, with its reason
            with contextlib.suppress(OSError):
                out.unlink()
            job.error = " ".join(str(err).split()) or type(err).__name__
            job.failure, job.state = err, "failed"
        else:
            job.path, job.progress, job.state = path, 1.0, "done"
        job.finished_at = time.time()

    def _forget_old(self) -> None:
        cutoff = time.time() - KEEP_S
        with self._lock:
            old = [j for j in self._jobs.values() if j.finished_at and j.finished_at < cutoff]
            for job in old:
                del self._jobs[job.id]
        for job in old:
            if job.path is not None:
                with contextlib.suppress(OSError):
                    job.path.unlink()


# --------------------------------------------------------------------------- files of exports

_TMP_PREFIX = ".tmp-"
_TMP_MAX_AGE_S = 3600.0  # temporary exports older than this are swept


def export_errors(recording: ModuleType) -> tuple[type[BaseException], ...]:
    """What an export raises for footage that is not there (answered 404)."""
    errors: tuple[type[BaseException], ...] = (LookupError, ValueError, FileNotFoundError)
    recording_error = getattr(recording, "RecordingError", None)
    if isinstance(recording_error, type) and issubclass(recording_error, BaseException):
        errors += (recording_error,)
    return errors


def temp_path(directory: Path, suffix: str = ".mp4") -> Path:
    """A new temporary file name in `directory` (made if need be), old ones swept first."""
    directory.mkdir(parents=True, exist_ok=True)
    _sweep_temp(directory)
    return directory / f"{_TMP_PREFIX}{uuid.uuid4().hex}{suffix}"


def _sweep_temp(directory: Path) -> None:
    """Delete temporary exports left behind (a client that went away mid-download)."""
    cutoff = time.time() - _TMP_MAX_AGE_S
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(_TMP_PREFIX):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)


def unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def exported(result: Any, out: Path) -> Path | None:
    """The file an export wrote: its return value when that is a path, else `out`."""
    path = Path(result) if isinstance(result, (str, os.PathLike)) else out
    return path if path.is_file() and path.stat().st_size > 0 else None


# --------------------------------------------------------------------------- masked copies


def masking_key(view: PrivacyView, keep_track: int | None = None) -> str:
    """A short digest of what a masked copy depends on (the policy's masking, whether
    objects are masked, a kept track): cached copies are named with it, so a policy change
    never serves a copy masked the old way."""
    settings = view.settings.model_dump(
        mode="json", include={"mask", "mode", "part", "margin", "static"}
    )
    text = json.dumps([settings, view.mask_objects, keep_track], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def masked_exporter(
    index: Any,
    camera: str,
    start: float,
    end: float,
    view: PrivacyView,
    keep_track: int | None = None,
) -> Exporter:
    """An `Exporter` of the range as a masked copy (`vigil.privacy.reencode`); `index`
    answers segments whose paths this process can open."""

    def run(out: Path, progress: Callable[[float], None]) -> Path:
        segments = sorted(index.between(camera, start, end), key=lambda s: s.start_time)
        spans = [
            Span(Path(s.path), s.start_time, start, end) for s in segments if Path(s.path).is_file()
        ]
        if not spans:
            raise LookupError(f"nothing recorded for camera {camera!r} in that range")
        request = MaskRequest(view.settings, view.mask_objects, keep_track)
        return masked_copy(spans, out, request, progress).path

    return run
