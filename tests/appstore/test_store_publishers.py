"""Each app id has one publisher key: the first verified install pins it, a release signed by
any other trusted key is refused (install, upgrade, developer mode, after a removal), only
``vigil store trust KEY.pub --for-app ID`` moves it (logged), and a catalog listing an app
signed by two keys is refused."""

from __future__ import annotations

import json
from pathlib import Path

from cli.cli_helpers import Result, assert_one_line_error, invoke_vigil
from vigil.appstore.installed import read_records
from vigil.appstore.keys import generate_keypair, key_id, load_public_key
from vigil.appstore.publishers import AUDIT_FILENAME, PINS_FILENAME


def vigil(tmp: Path, *args: str | Path) -> Result:
    return invoke_vigil(*args, cwd=tmp, models=tmp)


def ok(r: Result) -> Result:
    assert r.returncode == 0, r
    return r


def kid(pub: Path) -> str:
    return key_id(load_public_key(pub))


def other_vendor(tmp: Path, wheel: Path) -> tuple[Path, Path, str]:
    """A second vendor, trusted by the operator, publishing `wheel` (same app id, same vendor
    name) in a catalog of its own: (catalog, public key, key id)."""
    key, pub = generate_keypair(tmp / "other")
    ok(vigil(tmp, "store", "trust", pub))
    catalog = tmp / "other-catalog"
    ok(vigil(tmp, "store", "publish", wheel, "--catalog", catalog, "--key", key))
    return catalog, pub, kid(pub)


def audit(root: Path) -> list[tuple[str, str | None, str]]:
    lines = (root / AUDIT_FILENAME).read_text().splitlines()
    return [(e["app"], e["from"], e["to"]) for e in map(json.loads, lines)]


def test_the_first_publisher_is_pinned_and_another_key_is_refused_until_moved(
    tmp_path, store, wheels
):
    ok(vigil(tmp_path, "store", "publish", wheels.v1, "--key", store.key))
    ok(vigil(tmp_path, "apps", "install", "queue_length"))
    first = kid(store.pub)
    pins = json.loads((store.root / PINS_FILENAME).read_text())["apps"]
    assert pins["queue_length"]["key_id"] == first
    assert audit(store.root) == [("queue_length", None, first)]

    catalog, pub, second = other_vendor(tmp_path, wheels.v1_1)
    refusal = (
        f"app 'queue_length' 1.1.0 is signed by key {second}, but 'queue_length' is published "
        f"by key {first}",
        "refusing it",
        "vigil store trust NEW_KEY.pub --for-app queue_length",
    )
    r = vigil(tmp_path, "apps", "upgrade", "queue_length", "--catalog", catalog)
    assert_one_line_error(r, *refusal)
    r = vigil(tmp_path, "apps", "install", "queue_length", "--catalog", catalog)
    assert_one_line_error(r, *refusal)
    r = vigil(tmp_path, "apps", "install", "queue_length", "--catalog", catalog, "--developer-mode")
    assert r.returncode == 2 and refusal[0] in r.stderr.splitlines()[-1], r
    assert read_records()["queue_length"].version == "1.0.0"
    r = ok(vigil(tmp_path, "store", "search", "--catalog", catalog))
    assert f"NOT this app's publisher here (key {first})" in r.stdout, r
    # Removing the app does not forget its publisher.
    ok(vigil(tmp_path, "apps", "remove", "queue_length", "--force"))
    r = vigil(tmp_path, "apps", "install", "queue_length", "--catalog", catalog)
    assert_one_line_error(r, *refusal)
    assert read_records() == {}

    # The operator moves the app to the new key, on purpose and on the record.
    r = ok(vigil(tmp_path, "store", "trust", pub, "--for-app", "queue_length"))
    assert f"app queue_length: now published by key {second} (was key {first})" in r.stdout
    assert audit(store.root)[-1] == ("queue_length", first, second)
    r = ok(vigil(tmp_path, "apps", "install", "queue_length", "--catalog", catalog))
    assert f"installed queue_length 1.1.0, signature by {second} verified" in r.stdout
    r = vigil(tmp_path, "apps", "install", "queue_length==1.0.0")  # the old key's release
    assert_one_line_error(r, f"signed by key {first}, but 'queue_length' is published by key")
    assert read_records()["queue_length"].version == "1.1.0"


def test_an_app_id_may_be_pinned_before_its_first_install(tmp_path, store, wheels):
    ok(vigil(tmp_path, "store", "trust", store.pub, "--for-app", "queue_length"))
    catalog, _, second = other_vendor(tmp_path, wheels.v1)
    r = vigil(tmp_path, "apps", "install", "queue_length", "--catalog", catalog)
    assert_one_line_error(r, f"signed by key {second}, but 'queue_length' is published by key")
    assert read_records() == {}
    for bad, why in (("occupancy", "built into Vigil"), ("Queue-Length", "not an app id")):
        r = vigil(tmp_path, "store", "trust", store.pub, "--for-app", bad)
        assert_one_line_error(r, why)


def test_apps_installed_before_pins_keep_their_publisher(tmp_path, store, wheels):
    ok(vigil(tmp_path, "store", "publish", wheels.v1, "--key", store.key))
    ok(vigil(tmp_path, "apps", "install", "queue_length"))
    (store.root / PINS_FILENAME).unlink()  # as installed by a Vigil without pins
    catalog, _, second = other_vendor(tmp_path, wheels.v1_1)
    r = vigil(tmp_path, "apps", "upgrade", "--catalog", catalog)
    assert_one_line_error(r, f"signed by key {second}, but 'queue_length' is published by key")
    ok(vigil(tmp_path, "apps", "remove", "queue_length", "--force"))  # the pin is kept
    r = vigil(tmp_path, "apps", "install", "queue_length", "--catalog", catalog)
    assert_one_line_error(r, f"signed by key {second}, but 'queue_length' is published by key")


def test_a_catalog_listing_an_app_signed_by_two_keys_is_refused(tmp_path, store, wheels):
    ok(vigil(tmp_path, "store", "publish", wheels.v1, "--key", store.key))
    first = kid(store.pub)
    other_key, other_pub = generate_keypair(tmp_path / "other")
    second = kid(other_pub)
    ok(vigil(tmp_path, "store", "trust", other_pub))
    index_path = store.catalog / "index.json"
    before = index_path.read_text()
    r = vigil(tmp_path, "store", "publish", wheels.v1_1, "--key", other_key)
    assert_one_line_error(
        r, f"app 'queue_length' is published there with key {first}, not {second}", "--rotate-key"
    )
    assert index_path.read_text() == before and not (store.catalog / wheels.v1_1.name).exists()

    # A catalog put together by hand (or by an attacker) from two vendors' releases.
    other_catalog = tmp_path / "other-catalog"
    ok(
        vigil(
            tmp_path,
            "store",
            "publish",
            wheels.v1_1,
            "--catalog",
            other_catalog,
            "--key",
            other_key,
        )
    )
    index = json.loads(before)
    other = json.loads((other_catalog / "index.json").read_text())
    index["apps"]["queue_length"]["1.1.0"] = other["apps"]["queue_length"]["1.1.0"]
    index_path.write_text(json.dumps(index))
    (store.catalog / wheels.v1_1.name).write_bytes((other_catalog / wheels.v1_1.name).read_bytes())
    two_keys = (
        f"index.json: apps: app 'queue_length' is signed by 2 keys (key {first}: 1.0.0; "
        f"key {second}: 1.1.0): one key publishes an app, refusing the catalog"
    )
    for command in (("apps", "install", "queue_length==1.0.0"), ("store", "search")):
        assert_one_line_error(vigil(tmp_path, *command), two_keys)
    assert read_records() == {}

    # A vendor changing keys re-signs the app's releases; operators then move the app.
    index_path.write_text(before)
    ok(vigil(tmp_path, "store", "publish", wheels.v1_1, "--key", other_key, "--rotate-key"))
    releases = json.loads(index_path.read_text())["apps"]["queue_length"]
    assert {v: r["key_id"] for v, r in releases.items()} == {"1.0.0": second, "1.1.0": second}
    r = ok(vigil(tmp_path, "apps", "install", "queue_length==1.0.0"))
    assert f"signature by {second} verified" in r.stdout
