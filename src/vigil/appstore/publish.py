"""Publishing: add an app wheel (and the wheels it depends on) to a local catalog directory,
signed with the vendor's key; each publication re-signs the index with a higher serial.

One key signs all releases of an app (clients refuse a catalog where two do): publishing with
another key is refused, unless ``rotate_key`` re-signs the app's other releases with it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.appstore import AppStoreError
from vigil.appstore.catalog import (
    INDEX_FILENAME,
    Catalog,
    CatalogIndex,
    CatalogWheel,
    Release,
)
from vigil.appstore.dependencies import check_requirements
from vigil.appstore.installed import atomic_write
from vigil.appstore.keys import key_id, load_private_key, sign
from vigil.appstore.wheel import inspect_wheel
from vigil.detection.models import sha256_of


def _refuse_changed(source: Path, directory: Path) -> None:
    """A published dependency wheel is immutable: other releases list its sha256."""
    target = directory / source.name
    if target.exists() and sha256_of(target) != sha256_of(source):
        raise AppStoreError(
            f"catalog {directory}: a different {source.name} is already published; "
            "published wheels are immutable (give the new build a new version)"
        )


def _add_file(source: Path, directory: Path) -> CatalogWheel:
    """Copy a wheel into the catalog (atomically) and describe it."""
    target = directory / source.name
    if source.resolve() != target.resolve():
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{source.name}-")
        os.close(fd)
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    return CatalogWheel(wheel=target.name, sha256=sha256_of(target), size=target.stat().st_size)


def sign_index(index: CatalogIndex, private: Ed25519PrivateKey | None) -> CatalogIndex:
    """`index` signed with `private` (None: unsigned, only ``--developer-mode`` uses it)."""
    if private is None:
        return index.model_copy(update={"signature": None, "key_id": None})
    signature = sign(private, index.signed_payload())  # the payload leaves the signature out
    return index.model_copy(update={"signature": signature, "key_id": key_id(private.public_key())})


def _one_signer(
    index: CatalogIndex,
    app_id: str,
    version: str,
    private: Ed25519PrivateKey | None,
    rotate_key: bool,
    where: str,
) -> None:
    """Keep one key per app in `index`: refuse (AppStoreError) a release of `app_id` signed with
    another key than its other releases, or with `rotate_key` re-sign those with `private`."""
    signer = key_id(private.public_key()) if private is not None else None
    if rotate_key and private is None:
        raise AppStoreError("--rotate-key: pass the new key with --key")
    releases = index.apps.get(app_id, {})
    others = {
        r.key_id for v, r in releases.items() if v != version and r.key_id not in (None, signer)
    }
    if not others or private is None:  # an unsigned release is nobody's
        return
    if not rotate_key:
        raise AppStoreError(
            f"{where}: app {app_id!r} is published there with key {', '.join(sorted(others))}, "
            f"not {signer}: clients refuse an app signed by two keys; sign with that key, or "
            "re-sign all its releases with the new one (--rotate-key)"
        )
    for v, release in releases.items():
        if release.key_id is not None:
            signature = sign(private, release.signed_payload())
            releases[v] = release.model_copy(update={"signature": signature, "key_id": signer})


def publish(
    wheel: Path,
    catalog: str,
    key: Path | None,
    bundled: Sequence[Path] = (),
    *,
    rotate_key: bool = False,
) -> tuple[str, Release]:
    """Add (or replace) the release of `wheel`'s app in the catalog directory; sign it with
    `key` (None publishes it unsigned: only ``--developer-mode`` installs it). Another key
    than the one of the app's other releases is refused, unless `rotate_key` re-signs them
    with `key`. Returns the app id and the release."""
    directory = Catalog(catalog).directory
    if directory is None:
        raise AppStoreError(f"catalog {catalog}: can only publish to a local directory")
    app = inspect_wheel(wheel)
    if app.manifest is None:
        raise AppStoreError(f"{wheel.name}: not a Vigil app (no vigil.apps entry point)")
    deps = [inspect_wheel(p) for p in bundled]
    check_requirements(app.manifest.id, app, deps, against_vigil=False)
    private = load_private_key(key) if key is not None else None

    directory.mkdir(parents=True, exist_ok=True)
    index = Catalog(catalog).index if (directory / INDEX_FILENAME).exists() else CatalogIndex()
    # before anything is written:
    where = f"catalog {directory}"
    _one_signer(index, app.manifest.id, app.manifest.version, private, rotate_key, where)
    for path in bundled:
        _refuse_changed(path, directory)
    entry = _add_file(wheel, directory)
    release = Release(
        **entry.model_dump(),
        manifest=app.manifest.model_dump(mode="json"),
        requires=[_add_file(p, directory) for p in bundled],
        published=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if private is not None:
        release = release.model_copy(
            update={
                "signature": sign(private, release.signed_payload()),
                "key_id": key_id(private.public_key()),
            }
        )
    index.apps.setdefault(app.manifest.id, {})[app.manifest.version] = release
    index = index.model_copy(update={"serial": index.serial + 1, "timestamp": release.published})
    index = sign_index(index, private)
    atomic_write(directory / INDEX_FILENAME, index.model_dump_json(indent=2) + "\n")
    return app.manifest.id, release
