"""The databases a benchmark runs on: a SQLite file and a private PostgreSQL server
(`vigil.cluster.postgres.PrivatePostgres`), in a temporary folder.

    for name, url in database_urls("sqlite,postgresql", "vigil-forensic-"):
        run_backend(name, url, args)
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from vigil.cluster.postgres import PrivatePostgres


def database_urls(backends: str, prefix: str) -> Iterator[tuple[str, str]]:
    """(name, SQLAlchemy URL) of each backend of the comma-separated `backends`, one at a
    time (a PostgreSQL server stops when the next is asked for); SystemExit (2) naming an
    unknown one."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        work = Path(folder)
        work.chmod(0o755)  # PostgreSQL runs as its own user when started as root
        for backend in backends.split(","):
            if backend == "sqlite":
                yield "sqlite", f"sqlite:///{work / 'bench.db'}"
            elif backend == "postgresql":
                server = PrivatePostgres(work / "pg", durable=False)
                try:
                    yield "postgresql", server.start()
                finally:
                    server.stop()
            else:
                raise SystemExit(f"--backends: unknown backend {backend!r}")
