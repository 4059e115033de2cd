"""An app found with ``vigil store search``, installed with ``vigil apps install`` and put on
a camera with ``vigil apps enable`` runs like a built-in one — in its sandbox
(`vigil.sandbox.SandboxedApp`) — and its events reach the events database."""

from __future__ import annotations

import json
import shutil
import sqlite3

import yaml

from cli.cli_helpers import assert_one_line_error, invoke_vigil, run_vigil

SITE = """\
source:
  id: yard
detector:
  input_size: [416, 320]
zones:
  west: {points: [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]}
apps:
  - type: queue_length
    name: queue
    settings: {zone: west, report_interval: 1.0}
"""


def test_search_install_then_run_the_app_in_the_pipeline(
    tmp_path, store, wheels, walker_clip, tiny_models
):
    assert (
        invoke_vigil(
            "store", "publish", wheels.v1, "--key", store.key, cwd=tmp_path, models=tmp_path
        ).returncode
        == 0
    )
    r = invoke_vigil("store", "search", "wait", cwd=tmp_path, models=tmp_path)
    assert r.stdout.startswith("queue_length 1.0.0"), r
    r = invoke_vigil("apps", "install", "queue_length", cwd=tmp_path, models=tmp_path)
    assert r.returncode == 0, r

    (tmp_path / "serve.yaml").write_text(
        "cameras:\n  - id: yard\n    url: walkers.mp4\n"
        "    zones: {west: {points: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}}\n"
    )
    enable = ("apps", "enable", "queue_length", "--camera", "yard", "--config", "serve.yaml")
    r = invoke_vigil(*enable, "--set", "zone=west", cwd=tmp_path, models=tmp_path)
    assert r.returncode == 0, r
    site = yaml.safe_load((tmp_path / "serve.yaml").read_text())
    assert site["cameras"][0]["apps"] == [
        {"type": "queue_length", "name": "queue_length", "settings": {"zone": "west"}}
    ]
    bad = ("--name", "q2", "--set", "zone=west", "--set", "max_wait=0")
    r = invoke_vigil(*enable, *bad, cwd=tmp_path, models=tmp_path)
    assert_one_line_error(
        r, "serve.yaml: cameras[0].apps[1]: settings.max_wait: 0 is less than or equal"
    )
    r = invoke_vigil(*enable, "--name", "q3", "--set", "zone=lobby", cwd=tmp_path, models=tmp_path)
    assert_one_line_error(
        r, "serve.yaml: cameras[0].apps[1]: settings.zone: unknown zone 'lobby' (known: west)"
    )

    shutil.copy(walker_clip.path, tmp_path / "walkers.mp4")
    (tmp_path / "site.yaml").write_text(SITE)
    r = run_vigil(
        "run",
        "walkers.mp4",
        "-c",
        "site.yaml",
        "-o",
        "out",
        "--no-video",
        cwd=tmp_path,
        models=tiny_models,
    )
    assert r.returncode == 0, r
    with sqlite3.connect(tmp_path / "out" / "events.db") as db:
        rows = db.execute(
            "SELECT source, app, type, zone, start_time, attributes FROM events ORDER BY start_time"
        ).fetchall()
    reports = [(r[:4], r[4], json.loads(r[5])) for r in rows]
    assert reports and all(
        head == ("yard", "queue", "queue_length", "west") for head, _, _ in reports
    )
    # 40 frames at 10 fps, a report every second; walker A starts in the west half and
    # leaves it halfway, walker B arrives there.
    assert [t for _, t, _ in reports] == [0.0, 1.0, 2.0, 3.0]
    assert reports[0][2]["count"] == 1

    # A bad setting of a store app is a one-line config error, before anything runs.
    (tmp_path / "bad.yaml").write_text(SITE.replace("report_interval: 1.0", "report_interval: -1"))
    r = invoke_vigil(
        "run", "walkers.mp4", "-c", "bad.yaml", "-o", "out2", cwd=tmp_path, models=tiny_models
    )
    assert_one_line_error(r, "bad.yaml: apps[0]: settings.report_interval: -1 is less than")
