"""`vigil serve` with its database on a real PostgreSQL server (tests/postgres_server.py):
accounts (`vigil users`), events and recording segments land there and the API reads them
back; the site config says clearly what is wrong with a database URL.

The camera is a looped H.264 file of a blue square crossing the frame every 4 s, which the
tiny blob detector (conftest's `tiny_models`) sees as a person: the line-crossing app fires
every few seconds. No RTSP server is needed: what is tested is the storage.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect
from test_serve_e2e import printed_url, start_service, stop_process, wait_for

from rtsp.harness import write_clip
from vigil.config.loader import load_config_text
from vigil.db.database import Database
from vigil.errors import ConfigError
from vigil.events import EventStore
from vigil.recording.index import SegmentIndex
from vigil.service.config import SiteConfig
from vigil.sources.urls import redact_url


def test_serve_stores_events_and_segments_in_postgresql(
    tmp_path: Path, tiny_models: Path, postgres_url: str
) -> None:
    clip = write_clip(tmp_path / "square.mp4", 416, 320, 15, 4)
    data = tmp_path / "data"
    (tmp_path / "site.yaml").write_text(
        textwrap.dedent(
            f"""\
            cameras:
              - id: gate
                url: {clip}
                loop: true
                detect_fps: 5
                record: {{mode: continuous, segment_seconds: 2}}
                lines:
                  middle: {{start: [0.5, 0.05], end: [0.5, 0.95]}}
                apps:
                  - {{type: line_crossing, name: crossings, settings: {{line: middle}}}}
            detector: {{input_size: [416, 320]}}
            storage: {{directory: {data}, database: "{postgres_url}"}}
            server: {{host: 127.0.0.1, port: 0}}
            """
        )
    )

    # The accounts live in the same database: an admin and an API token for the API below.
    def users(*args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "vigil.cli.main", "users", *args, "-c", "site.yaml"],
            cwd=tmp_path, input=stdin, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    users("add", "admin", "--admin", "--password-stdin", stdin="a long passphrase\n")
    token = users("token", "admin").strip().splitlines()[-1]
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], tmp_path, tiny_models)
    try:
        url = printed_url(process, stdout, log)
        # Where the data is, without the credentials of the connection.
        assert f"database:   {redact_url(postgres_url)}" in stdout.read_text()
        assert "postgres@" not in stdout.read_text()
        with Database(postgres_url) as database:
            events, index = EventStore(database), SegmentIndex(database)
            wait_for(
                lambda: events.count(source="gate", type="line_crossing") >= 2,
                40,
                "two line crossings in PostgreSQL",
                log=log,
            )
            wait_for(lambda: index.count("gate") >= 2, 20, "two segments in PostgreSQL", log=log)
            crossing = events.query(source="gate", type="line_crossing")[0]
            assert crossing.app == "crossings" and crossing.class_name == "person"
            assert crossing.attributes["direction"] in ("in", "out")
            segments = index.oldest("gate", limit=None)
            for segment in segments:
                assert Path(segment.path).is_file() and segment.size_bytes > 0
                assert 1.0 < segment.duration < 5.0, segment
            # The events fall within the recorded footage (one timeline: the wall clock).
            assert segments[0].start_time - 5 <= crossing.start_time <= segments[-1].end_time + 5
        # The API reads them back from PostgreSQL.
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        listed = api.get("/api/events", params={"camera": "gate", "type": "line_crossing"})
        assert listed.status_code == 200, listed.text
        assert crossing.id in {e["id"] for e in listed.json()["items"]}
        recordings = api.get(
            "/api/recordings",
            params={"camera": "gate", "start": segments[0].start_time, "end": time.time()},
        )
        assert recordings.status_code == 200, recordings.text
        assert recordings.json()["segments"], recordings.json()
        counts = api.get("/api/counts", params={"camera": "gate", "interval": 60})
        assert counts.status_code == 200, counts.text
        assert counts.json()["line_crossings"], counts.json()
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0, log.tail()
    finally:
        stop_process(process, signal.SIGKILL)
    # Nothing went to a SQLite file by mistake.
    assert not (data / "vigil.db").exists()
    engine = create_engine(postgres_url)
    try:
        assert {"events", "segments", "alembic_version"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


SITE = "cameras: [{{id: cam1, url: rtsp://127.0.0.1:9/x}}]\nstorage: {{database: '{url}'}}\n"


def load(url: str) -> SiteConfig:
    return load_config_text(SITE.format(url=url), "site.yaml", model=SiteConfig)


def test_site_accepts_postgresql_urls() -> None:
    for url in ("postgresql+psycopg://vigil:pw@db:5432/vigil", "postgresql://vigil@db/vigil"):
        assert load(url).storage.database_url() == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://u:secret@db/vigil",
            "site.yaml: storage.database: unsupported database 'mysql': use sqlite:///FILE or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE",
        ),
        (
            "postgresql://u:secret@db:port/vigil",
            "site.yaml: storage.database: not a database URL: invalid literal for int() with "
            "base 10: 'port'",
        ),
    ],
)
def test_site_rejects_bad_database_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(url)
    assert str(info.value) == message  # one line, without the password


def test_site_says_how_to_get_the_postgresql_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` fails, as uninstalled
    with pytest.raises(ConfigError) as info:
        load("postgresql+psycopg://u:secret@db/vigil")
    assert str(info.value) == (
        "site.yaml: storage.database: postgresql driver 'psycopg' is not installed "
        "(pip install 'vigil[postgres]')"
    )
