"""Rollback protection: the catalog's index is signed as a whole with a serial that only
increases; a client refuses an older index (one that hides newer versions), an index edited
after signing or an unsigned one (unless --developer-mode), and an upgrade never downgrades."""

from __future__ import annotations

import json
from pathlib import Path

from cli.cli_helpers import Result, assert_one_line_error, invoke_vigil
from vigil.appstore.catalog import Catalog
from vigil.appstore.freshness import SEEN_FILENAME
from vigil.appstore.installed import read_records
from vigil.appstore.keys import load_private_key
from vigil.appstore.publish import sign_index


def vigil(tmp: Path, *args: str | Path) -> Result:
    return invoke_vigil(*args, cwd=tmp, models=tmp)


def publish(tmp: Path, wheel: Path, key: Path) -> None:
    r = vigil(tmp, "store", "publish", wheel, "--key", key)
    assert r.returncode == 0, r


def seen_serial(root: Path) -> int:
    [entry] = json.loads((root / SEEN_FILENAME).read_text())["catalogs"].values()
    return entry["serial"]


def test_an_older_signed_index_is_refused(tmp_path, store, wheels):
    index_path = store.catalog / "index.json"
    publish(tmp_path, wheels.v1, store.key)
    old_index = index_path.read_bytes()  # serial 1, validly signed, lists 1.0.0 only
    assert json.loads(old_index)["serial"] == 1
    assert vigil(tmp_path, "apps", "install", "queue_length").returncode == 0
    publish(tmp_path, wheels.v1_1, store.key)
    r = vigil(tmp_path, "apps", "upgrade")
    assert r.returncode == 0 and "installed queue_length 1.1.0 (was 1.0.0)" in r.stdout, r
    assert seen_serial(store.root) == 2

    # whoever serves the catalog goes back to the first index: 1.1.0 hidden, still signed
    index_path.write_bytes(old_index)
    for args in (
        ("apps", "upgrade"),
        ("apps", "install", "queue_length==1.0.0"),
        ("store", "search"),
    ):
        assert_one_line_error(
            vigil(tmp_path, *args),
            "index.json: serial 1 (",
            "is older than serial 2 (",
            "rolled back or tampered with, refusing it",
        )
    # developer mode waives signatures, never the rollback check
    r = vigil(tmp_path, "apps", "install", "queue_length==1.0.0", "--developer-mode")
    assert r.returncode == 2 and "older than serial 2" in r.stderr.splitlines()[-1], r
    assert read_records()["queue_length"].version == "1.1.0"
    assert seen_serial(store.root) == 2


def test_an_index_edited_after_signing_or_unsigned_is_refused(tmp_path, store, wheels):
    index_path = store.catalog / "index.json"
    publish(tmp_path, wheels.v1, store.key)
    publish(tmp_path, wheels.v1_1, store.key)
    signed = json.loads(index_path.read_text())

    # hiding 1.1.0 keeps every release signature valid, not the index's
    edited = json.loads(json.dumps(signed))
    del edited["apps"]["queue_length"]["1.1.0"]
    index_path.write_text(json.dumps(edited))
    r = vigil(tmp_path, "apps", "install", "queue_length")
    assert_one_line_error(r, "index.json does not match its signature", "refusing the catalog")
    assert read_records() == {}

    unsigned = dict(signed, signature=None, key_id=None)
    index_path.write_text(json.dumps(unsigned))
    r = vigil(tmp_path, "apps", "install", "queue_length")
    assert_one_line_error(r, "index.json is unsigned; refusing the catalog")
    r = vigil(tmp_path, "store", "search")
    assert r.returncode == 0 and r.stdout.startswith("queue_length 1.1.0"), r
    assert r.stderr.splitlines()[0] == (
        "WARNING: index.json is unsigned: only --developer-mode installs from this catalog"
    ), r
    r = vigil(tmp_path, "apps", "install", "queue_length", "--developer-mode")
    assert r.returncode == 0 and "installed queue_length 1.1.0" in r.stdout, r
    assert "DEVELOPER MODE: catalog" in r.stderr and "index.json is unsigned" in r.stderr, r
    assert not (store.root / SEEN_FILENAME).exists()  # an unverified serial is not remembered

    # the same serial with other contents is refused once a signed one was seen
    index_path.write_text(json.dumps(signed))
    assert vigil(tmp_path, "apps", "upgrade").returncode == 0
    other = sign_index(
        Catalog(str(store.catalog)).index.model_copy(update={"timestamp": "2000-01-01"}),
        load_private_key(store.key),
    )
    index_path.write_text(other.model_dump_json())
    r = vigil(tmp_path, "apps", "upgrade")
    assert_one_line_error(r, "serial 2 (2000-01-01) is another index with serial 2")


def test_upgrade_never_downgrades(tmp_path, store, wheels):
    publish(tmp_path, wheels.v1, store.key)
    publish(tmp_path, wheels.v1_1, store.key)
    assert vigil(tmp_path, "apps", "install", "queue_length").returncode == 0
    # the vendor withdraws 1.1.0: a newer, validly signed index lists 1.0.0 only
    index = Catalog(str(store.catalog)).index
    del index.apps["queue_length"]["1.1.0"]
    index = sign_index(index.model_copy(update={"serial": 3}), load_private_key(store.key))
    (store.catalog / "index.json").write_text(index.model_dump_json())

    r = vigil(tmp_path, "apps", "upgrade", "queue_length")
    assert r.returncode == 0 and r.stdout.strip() == "queue_length is up to date", r
    r = vigil(tmp_path, "apps", "install", "queue_length")
    assert_one_line_error(r, "1.1.0 is installed, newer than", "install queue_length==1.0.0")
    assert read_records()["queue_length"].version == "1.1.0"
    r = vigil(tmp_path, "apps", "install", "queue_length==1.0.0")  # explicit: allowed
    assert r.returncode == 0 and "installed queue_length 1.0.0 (was 1.1.0)" in r.stdout, r
    assert seen_serial(store.root) == 3
