"""The store end to end through the CLI: keys, publish, search, install, list, upgrade,
remove — from a catalog directory and over http:// — with the app's isolated site dir."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.cli_helpers import Result, assert_one_line_error, invoke_vigil
from vigil.appstore.installed import installed_apps, read_records
from vigil.appstore.registry import app_manifest, known_kinds

SITE_RUNNING_IT = """\
cameras:
  - {id: door, url: door.mp4, zones: {w: {points: [[0, 0], [1, 0], [1, 1]]}},
     apps: [{type: queue_length, settings: {zone: w}}]}
  - {id: gate, url: gate.mp4, zones: {w: {points: [[0, 0], [1, 0], [1, 1]]}},
     apps: [{type: queue_length, name: q, settings: {zone: w}}]}
  - {id: yard, url: yard.mp4, zones: {w: {points: [[0, 0], [1, 0], [1, 1]]}},
     apps: [{type: queue_length, enabled: false, settings: {zone: w}}]}
"""


def vigil(tmp: Path, *args: str | Path) -> Result:
    return invoke_vigil(*args, cwd=tmp, models=tmp)


def test_keygen_trust_publish_search_install_list_upgrade_remove(tmp_path, store, wheels):
    keys = tmp_path / "acme"
    r = vigil(tmp_path, "store", "keygen", "--out", keys, "--name", "acme")
    assert r.returncode == 0, r
    assert (keys / "acme.key").stat().st_mode & 0o777 == 0o600
    r = vigil(tmp_path, "store", "trust", keys / "acme.pub")
    assert r.returncode == 0 and "trusted key" in r.stdout, r
    r = vigil(
        tmp_path,
        "store",
        "publish",
        wheels.v1,
        "--catalog",
        store.catalog,
        "--key",
        keys / "acme.key",
    )
    assert r.returncode == 0 and "published queue_length 1.0.0 signed by key" in r.stdout, r

    r = vigil(tmp_path, "store", "search", "queue")
    assert r.returncode == 0, r
    assert r.stdout.splitlines()[0].startswith("queue_length 1.0.0  Queue length by Example Vendor")
    assert "trusted" in r.stdout and "NOT trusted" not in r.stdout
    assert (
        "nothing" not in vigil(tmp_path, "store", "search", "nothing").stdout.split("'")[0] or True
    )
    r = vigil(tmp_path, "store", "search", "no such thing")
    assert r.returncode == 0 and r.stdout.startswith("no app matches"), r

    r = vigil(tmp_path, "apps", "install", "queue_length")
    assert r.returncode == 0, r
    assert r.stdout.strip().startswith("installed queue_length 1.0.0, signature by")
    (app,) = installed_apps().values()
    assert (app.manifest.id, app.manifest.version) == ("queue_length", "1.0.0")
    assert (app.site_dir / "queue_length" / "app.py").is_file()
    assert app.root == store.root / "queue_length" / "1.0.0"
    assert json.loads((app.root / "manifest.json").read_text())["events"] == [
        "queue_length",
        "long_wait",
    ]
    # Isolated: not importable from Vigil's own environment, importable from its site dir.
    with pytest.raises(ImportError):
        __import__("queue_length")
    assert "queue_length" in known_kinds() and app_manifest("queue_length").origin == "store"
    r = vigil(tmp_path, "apps", "list")
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("queue_length"))
    assert "1.0.0" in line and "store, sandboxed, signed by" in line, r
    assert "built-in" in next(ln for ln in r.stdout.splitlines() if ln.startswith("occupancy"))

    r = vigil(tmp_path, "apps", "upgrade")
    assert r.returncode == 0 and "all up to date" in r.stdout, r
    vigil(tmp_path, "store", "publish", wheels.v1_1, "--key", keys / "acme.key")
    r = vigil(tmp_path, "apps", "upgrade", "queue_length")
    assert r.returncode == 0 and "installed queue_length 1.1.0 (was 1.0.0)" in r.stdout, r
    assert read_records()["queue_length"].version == "1.1.0"
    # The replaced version stays (a running sandbox may restart from it) until the next
    # install of the app; older ones go.
    assert sorted(p.name for p in (store.root / "queue_length").iterdir()) == ["1.0.0", "1.1.0"]
    (store.root / "queue_length" / "0.9.0").mkdir()

    r = vigil(tmp_path, "apps", "install", "queue_length==1.0.0")  # an explicit downgrade
    assert r.returncode == 0 and "installed queue_length 1.0.0 (was 1.1.0)" in r.stdout, r
    assert sorted(p.name for p in (store.root / "queue_length").iterdir()) == ["1.0.0", "1.1.0"]
    # not while a camera runs it (the site file says), nor without looking (--config)
    (tmp_path / "site.yaml").write_text(SITE_RUNNING_IT)
    r = vigil(tmp_path, "apps", "remove", "queue_length", "-c", "site.yaml")
    assert_one_line_error(r, "'queue_length' is enabled on camera(s) door, gate in site.yaml")
    r = vigil(tmp_path, "apps", "remove", "queue_length")
    assert_one_line_error(r, "pass --config SITE.yaml", "or --force")
    assert read_records()["queue_length"].version == "1.0.0"
    r = vigil(tmp_path, "apps", "remove", "queue_length", "--force")
    assert r.returncode == 0 and r.stdout.strip() == "removed queue_length 1.0.0", r
    assert read_records() == {} and not (store.root / "queue_length").exists()
    assert "queue_length" not in known_kinds()
    assert_one_line_error(vigil(tmp_path, "apps", "remove", "queue_length"), "is not installed")
    assert_one_line_error(vigil(tmp_path, "apps", "remove", "occupancy"), "built into Vigil")


def test_bundled_dependency_goes_into_the_apps_own_site_dir(tmp_path, store, wheels):
    r = vigil(tmp_path, "store", "publish", wheels.with_dep, "--key", store.key)
    assert_one_line_error(r, "waitstats>=0.1", "not published with the app")
    r = vigil(
        tmp_path,
        "store",
        "publish",
        wheels.with_dep,
        "--key",
        store.key,
        "--with",
        wheels.waitstats,
    )
    assert r.returncode == 0, r
    assert vigil(tmp_path, "apps", "install", "queue_length").returncode == 0
    site = installed_apps()["queue_length"].site_dir
    probe = "import waitstats, queue_length.app; print(waitstats.MEAN, waitstats.__file__)"
    vigil_path = os.environ.get("PYTHONPATH")  # the Vigil under test, behind the app's site
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": os.pathsep.join(filter(None, [str(site), vigil_path]))},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == "mean" and out[1].startswith(str(site))
    with pytest.raises(ImportError):  # never in Vigil's own environment
        __import__("waitstats")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def http_catalog(store) -> Iterator[str]:
    """The store's catalog directory served over http://127.0.0.1."""
    handler = functools.partial(_QuietHandler, directory=str(store.catalog))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_catalogs_over_http_and_file_urls(tmp_path, store, wheels, http_catalog):
    store.catalog.mkdir()
    assert vigil(tmp_path, "store", "publish", wheels.v1, "--key", store.key).returncode == 0
    r = vigil(tmp_path, "store", "search", "--catalog", http_catalog)
    assert r.stdout.startswith("queue_length 1.0.0"), r
    r = vigil(tmp_path, "apps", "install", "queue_length", "--catalog", http_catalog)
    assert r.returncode == 0, r
    assert read_records()["queue_length"].catalog == http_catalog
    r = vigil(tmp_path, "apps", "install", "nope", "--catalog", http_catalog)
    assert_one_line_error(r, "no app 'nope'")
    r = vigil(tmp_path, "apps", "install", "x", "--catalog", http_catalog + "missing/")
    assert_one_line_error(r, "index.json", "404")
    r = vigil(tmp_path, "store", "search", "--catalog", store.catalog.as_uri())
    assert r.stdout.startswith("queue_length 1.0.0"), r
    r = vigil(tmp_path, "store", "search", "--catalog", "ftp://127.0.0.1/catalog")
    assert_one_line_error(r, "unsupported URL scheme 'ftp'")
    r = vigil(tmp_path, "store", "publish", wheels.v1, "--catalog", http_catalog)
    assert_one_line_error(r, "can only publish to a local directory")
