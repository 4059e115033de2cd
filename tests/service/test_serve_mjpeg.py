"""`vigil serve` with an HTTP/MJPEG camera (tests/mjpeg_server.py): analysed on the wall
clock, back after the camera's server restarts, and not recorded (MJPEG in MP4 does not play
in browsers), which the log says in one line and the camera's status says to the API."""

from __future__ import annotations

import signal
import textwrap
import time
from pathlib import Path

from test_serve_e2e import admin_client, printed_url, start_service, stop_process, wait_for

from mjpeg_server import MjpegServer
from vigil.db.database import Database
from vigil.events import EventStore


def test_serve_analyses_an_mjpeg_camera(tmp_path: Path, tiny_models: Path) -> None:
    camera = MjpegServer(width=416, height=320, fps=15).start()
    data = tmp_path / "data"
    (tmp_path / "site.yaml").write_text(
        textwrap.dedent(
            f"""\
            cameras:
              - id: door
                url: {camera.url}
                detect_fps: 5
                hwaccel: vaapi
                lines:
                  middle: {{start: [0.5, 0.05], end: [0.5, 0.95]}}
                apps:
                  - {{type: line_crossing, name: crossings, settings: {{line: middle}}}}
            detector: {{input_size: [416, 320]}}
            storage: {{directory: {data}}}
            server: {{host: 127.0.0.1, port: 0}}
            """
        )
    )
    process, stdout, log = start_service(["serve", "-c", "site.yaml"], tmp_path, tiny_models)
    try:
        url = printed_url(process, stdout, log)
        http = admin_client(data)

        def recording() -> str | None:
            status = http.get(url + "/api/cameras/door").json()["status"]
            return None if status is None or status["frames_in"] == 0 else status["recording"]

        assert wait_for(recording, 30, "the camera's first frames", log=log) == (
            "unsupported: mjpeg"
        )
        # What decodes it is in the status: VAAPI, or software saying why not (no GPU here).
        decoder = http.get(url + "/api/cameras/door").json()["status"]["decoder"]
        assert decoder == "vaapi" or decoder.startswith("software (vaapi: "), decoder
        # Crossings of the blue square in the database show that the camera is read and
        # analysed.
        with Database(data / "vigil.db") as database:
            events = EventStore(database)
            wait_for(lambda: events.count(source="door") >= 1, 40, "a line crossing", log=log)
            crossing = events.query(source="door")[0]
            assert abs(crossing.start_time - time.time()) < 30  # the wall clock
            assert crossing.class_name == "person"

            camera.stop()  # the camera's server goes away for a few seconds
            time.sleep(3)
            camera.start()
            back = time.time()

            def crossings_after() -> list[float]:
                return [e.start_time for e in events.query(source="door", since=back)]

            # The square crosses every 4 s: reconnecting takes at most the 5 s backoff cap.
            again = wait_for(crossings_after, 20, "crossings after the camera came back", log=log)
            assert again[0] - back < 12
        assert "cannot record codec mjpeg without re-encoding" in log.text()
        assert not list((data / "recordings").rglob("*.mp4"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0, log.tail()
    finally:
        stop_process(process, signal.SIGKILL)
        camera.stop()
