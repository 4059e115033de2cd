"""Installs and upgrades as background jobs (the dashboard's store page): each job runs
`vigil.appstore.install.install` — the very function and checks of ``vigil apps install`` —
in a worker thread, one at a time, and records its steps and outcome for the page to poll.
A failure ends the job with its reason in one line.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vigil.appstore.catalog import Catalog
from vigil.appstore.install import install

JobState = Literal["queued", "running", "done", "failed"]
KEEP_S = 3600.0  # a finished job is remembered this long
MAX_KEPT = 100  # and at most this many finished ones


@dataclass
class InstallJob:
    id: str
    app: str
    version: str | None  # asked for; None: the newest this SDK runs
    catalog: str
    started_by: str
    state: JobState = "queued"
    step: str = "waiting for another install to finish"
    progress: float = 0.0  # 0..1
    error: str | None = None  # one line, when failed
    installed: str | None = None  # the version installed, when done
    previous: str | None = None  # the version it replaced
    signed_by: str | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None


class InstallJobs:
    """The install jobs of one service: run one after another (an install holds the apps
    root's lock for its last step anyway, and pip is heavy on a small box)."""

    def __init__(self, root: Path | None = None, trusted_dir: Path | None = None) -> None:
        self.root = root  # None: `apps_root()` / `trusted_keys_dir()` at run time
        self.trusted_dir = trusted_dir
        self._lock = threading.Lock()
        self._jobs: dict[str, InstallJob] = {}
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-install")

    def start(self, app: str, version: str | None, catalog: str, started_by: str) -> InstallJob:
        """A new job installing `app` (==`version`) from `catalog`, queued."""
        job = InstallJob(uuid.uuid4().hex, app, version, catalog, started_by)
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
        self._runner.submit(self._run, job)
        return job

    def get(self, job_id: str) -> InstallJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def recent(self) -> list[InstallJob]:
        """Every remembered job, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def shutdown(self) -> None:
        self._runner.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: InstallJob) -> None:
        job.state = "running"

        def progress(step: str, done: float) -> None:
            job.step, job.progress = step, max(job.progress, done)

        spec = job.app if job.version is None else f"{job.app}=={job.version}"
        try:
            outcome = install(
                spec,
                Catalog(job.catalog),
                root=self.root,
                trusted_dir=self.trusted_dir,
                progress=progress,
            )
        except Exception as err:  # noqa: BLE001 - any failure ends the job, with its reason
            job.error = " ".join(str(err).split()) or type(err).__name__
            job.state = "failed"
        else:
            job.installed, job.previous = outcome.version, outcome.previous
            job.signed_by = outcome.signed_by
            job.step, job.progress, job.state = "installed", 1.0, "done"
        job.finished_at = time.time()

    def _forget_old(self) -> None:
        """Drop finished jobs older than `KEEP_S`, and the oldest beyond `MAX_KEPT` (the
        caller holds the lock)."""
        cutoff = time.time() - KEEP_S
        finished = sorted(
            (j for j in self._jobs.values() if j.finished_at is not None),
            key=lambda j: j.finished_at or 0.0,
        )
        for i, job in enumerate(finished):
            if (job.finished_at or 0.0) < cutoff or i < len(finished) - MAX_KEPT:
                del self._jobs[job.id]
