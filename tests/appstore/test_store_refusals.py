"""Packages the store must refuse — each with one line on stderr, exit 2, and nothing
installed: a wheel altered after signing, an index entry whose sha256 was edited, a release
signed by an untrusted key, an unsigned release (unless --developer-mode), an app whose
requirements conflict with Vigil's shared packages, an app needing another SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.cli_helpers import Result, assert_one_line_error, invoke_vigil
from vigil.apps import SDK_VERSION
from vigil.appstore.freshness import SEEN_FILENAME
from vigil.appstore.installed import read_records
from vigil.appstore.keys import generate_keypair


def vigil(tmp: Path, *args: str | Path) -> Result:
    return invoke_vigil(*args, cwd=tmp, models=tmp)


def assert_nothing_installed(root: Path) -> None:
    assert read_records(root) == {}
    # no app directory, no staging directory (the lock and the serials seen may stay)
    entries = list(root.iterdir()) if root.exists() else []
    leftovers = [p for p in entries if p.name not in {".lock", SEEN_FILENAME}]
    assert leftovers == [], leftovers


def publish(tmp: Path, wheel: Path, *options: str | Path) -> None:
    r = vigil(tmp, "store", "publish", wheel, *options)
    assert r.returncode == 0, r


def test_a_wheel_altered_after_signing_is_refused(tmp_path, store, wheels):
    publish(tmp_path, wheels.v1, "--key", store.key)
    catalog_wheel = store.catalog / wheels.v1.name
    data = bytearray(catalog_wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    catalog_wheel.write_bytes(bytes(data))
    r = vigil(tmp_path, "apps", "install", "queue_length")
    assert_one_line_error(r, f"{wheels.v1.name}: sha256", "does not match the index", "refusing")
    r = vigil(tmp_path, "apps", "install", "queue_length", "--developer-mode")
    assert r.returncode == 2, r  # developer mode waives signatures, never the sha256
    assert r.stderr.splitlines()[0].startswith("WARNING: developer mode"), r
    assert "does not match the index" in r.stderr.splitlines()[-1], r
    assert_nothing_installed(store.root)


def test_an_index_entry_with_an_edited_sha256_is_refused(tmp_path, store, wheels):
    publish(tmp_path, wheels.v1, "--key", store.key)
    publish(tmp_path, wheels.v1_1, "--key", store.key)
    # Swap in another wheel and "fix" the index to match it: the signature gives it away.
    index_path = store.catalog / "index.json"
    index = json.loads(index_path.read_text())
    v1, v11 = index["apps"]["queue_length"]["1.0.0"], index["apps"]["queue_length"]["1.1.0"]
    v1["sha256"], v1["size"] = v11["sha256"], v11["size"]
    (store.catalog / v1["wheel"]).write_bytes((store.catalog / v11["wheel"]).read_bytes())
    index_path.write_text(json.dumps(index))
    r = vigil(tmp_path, "apps", "install", "queue_length==1.0.0")
    assert_one_line_error(r, "queue_length", "does not match its signature", "refusing")
    assert_nothing_installed(store.root)


def test_a_release_signed_by_an_untrusted_key_is_refused(tmp_path, store, wheels):
    stranger, _ = generate_keypair(tmp_path / "stranger")
    publish(tmp_path, wheels.v1, "--key", stranger)
    r = vigil(tmp_path, "apps", "install", "queue_length")
    assert_one_line_error(r, "signed by untrusted key", "vigil store trust", "refusing")
    assert_nothing_installed(store.root)
    r = vigil(tmp_path, "store", "search")
    assert "NOT trusted" in r.stdout, r


def test_an_unsigned_release_needs_developer_mode(tmp_path, store, wheels):
    r = vigil(tmp_path, "store", "publish", wheels.v1)
    assert r.returncode == 0 and "published UNSIGNED" in r.stderr, r
    r = vigil(tmp_path, "apps", "install", "queue_length")
    assert_one_line_error(r, "'queue_length' 1.0.0 is unsigned; refusing to install it")
    assert_nothing_installed(store.root)

    r = vigil(tmp_path, "apps", "install", "queue_length", "--developer-mode")
    assert r.returncode == 0, r
    assert "WARNING: DEVELOPER MODE: app 'queue_length' 1.0.0 is unsigned" in r.stderr
    assert "installed queue_length 1.0.0, UNVERIFIED" in r.stdout
    assert read_records()["queue_length"].signed_by is None
    r = vigil(tmp_path, "apps", "list")
    assert "UNVERIFIED (developer mode)" in r.stdout, r


def test_an_app_conflicting_with_vigils_numpy_is_refused(tmp_path, store, wheels):
    publish(tmp_path, wheels.numpy_conflict, "--key", store.key)
    r = vigil(tmp_path, "apps", "install", "queue_length")
    line = assert_one_line_error(r, "requires numpy<1.0", "conflicting with Vigil's numpy")
    assert "shared across the SDK boundary" in line
    assert_nothing_installed(store.root)


def test_a_bundled_copy_of_a_shared_package_is_refused(tmp_path, store, wheels):
    r = vigil(
        tmp_path, "store", "publish", wheels.v1, "--key", store.key, "--with", wheels.fake_numpy
    )
    assert_one_line_error(r, "bundles numpy 9.0.0, which Vigil provides")


def test_published_dependency_wheels_are_immutable(tmp_path, store, wheels):
    publish(tmp_path, wheels.with_dep, "--key", store.key, "--with", wheels.waitstats)
    r = vigil(
        tmp_path,
        "store",
        "publish",
        wheels.v1_1,
        "--key",
        store.key,
        "--with",
        wheels.waitstats_rebuilt,
    )
    assert_one_line_error(r, "a different waitstats-0.1.0-py3-none-any.whl is already published")
    assert not (store.catalog / wheels.v1_1.name).exists()  # refused before anything is written
    mislabelled = tmp_path / "numpy-9.0.0-py3-none-any.whl"
    mislabelled.write_bytes(wheels.waitstats.read_bytes())
    r = vigil(tmp_path, "store", "publish", wheels.v1, "--key", store.key, "--with", mislabelled)
    assert_one_line_error(r, "its metadata names waitstats 0.1.0, not numpy 9.0.0")
    r = vigil(tmp_path, "apps", "install", "queue_length")  # the first release is intact
    assert r.returncode == 0, r


def test_an_app_needing_another_sdk_is_refused(tmp_path, store, wheels):
    publish(tmp_path, wheels.sdk2, "--key", store.key)
    r = vigil(tmp_path, "apps", "install", "queue_length")
    assert_one_line_error(r, "every version needs another app SDK", "'>=2'", f"SDK {SDK_VERSION}")
    r = vigil(tmp_path, "store", "search")
    assert f"needs SDK >=2 (this Vigil: {SDK_VERSION})" in r.stdout, r
    publish(tmp_path, wheels.v1, "--key", store.key)
    r = vigil(tmp_path, "apps", "install", "queue_length==2.0.0")
    assert_one_line_error(
        r, "'queue_length' 2.0.0 needs app SDK '>=2'", f"provides SDK {SDK_VERSION}"
    )
    assert_nothing_installed(store.root)
    r = vigil(tmp_path, "apps", "install", "queue_length")  # the newest that this SDK runs
    assert r.returncode == 0 and "installed queue_length 1.0.0" in r.stdout, r


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("queue_length==", ("bad app spec",)),
        ("queue_length==9.9", ("has no version 9.9", "published: 1.0.0")),
        ("occupancy", ("built into Vigil",)),
    ],
)
def test_bad_install_requests(tmp_path, store, wheels, spec, fragments):
    publish(tmp_path, wheels.v1, "--key", store.key)
    assert_one_line_error(vigil(tmp_path, "apps", "install", spec), *fragments)
    assert_nothing_installed(store.root)


def test_missing_catalog_and_non_app_wheels(tmp_path, store, wheels, monkeypatch):
    monkeypatch.delenv("VIGIL_CATALOG")
    assert_one_line_error(vigil(tmp_path, "apps", "install", "x"), "no catalog", "VIGIL_CATALOG")
    r = vigil(tmp_path, "store", "publish", wheels.waitstats, "--catalog", store.catalog)
    assert_one_line_error(r, "waitstats-0.1.0-py3-none-any.whl: not a Vigil app")
    r = vigil(tmp_path, "store", "publish", tmp_path / "nope.whl", "--catalog", store.catalog)
    assert_one_line_error(r, "nope.whl")


def test_an_index_with_a_malformed_version_is_refused_in_one_line(tmp_path, store):
    release = {"wheel": "x-1.0-py3-none-any.whl", "size": 1, "sha256": "0" * 64, "manifest": {}}
    catalog = tmp_path / "odd-catalog"
    catalog.mkdir()
    index = {"format": 1, "serial": 1, "apps": {"x": {"not-a-version!": release}}}
    (catalog / "index.json").write_text(json.dumps(index))
    r = vigil(tmp_path, "store", "search", "--catalog", catalog)
    assert_one_line_error(r, "index.json", "not a version: 'not-a-version!'")
