"""Installing, removing and upgrading store apps.

Everything is verified before anything is installed: the release's signature against the
trusted vendor keys and its key against the one the app id is pinned to
(`vigil.appstore.publishers`: the first verified install pins it), the SDK requirement, each
wheel's size and sha256 against the signed index entry, the manifest inside the wheel
against the signed one, and the app's requirements against Vigil's shared packages. pip
then installs exactly the verified wheels (binaries only, hashes required, no index, no
dependency resolution of its own) into the app's private ``<root>/<id>/<version>/site``;
installed.json is updated last.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from packaging.version import Version

from vigil.apps.registry import BUILTIN_APPS
from vigil.appstore import AppStoreError
from vigil.appstore.catalog import Catalog, Release
from vigil.appstore.dependencies import check_requirements
from vigil.appstore.freshness import check_index
from vigil.appstore.installed import (
    InstallRecord,
    apps_root,
    locked,
    read_records,
    version_dir,
    write_records,
)
from vigil.appstore.keys import signature_problem, trusted_keys
from vigil.appstore.publishers import check_publisher, keep_publisher
from vigil.appstore.wheel import WheelInfo, inspect_wheel

PIP_TIMEOUT_S = 300

#: Told each step of an install as it begins: what it does, and the share of the install done.
Progress = Callable[[str, float], None]


def _no_progress(step: str, done: float) -> None:
    """The default `Progress`: nobody is watching."""


@dataclass(frozen=True)
class InstallOutcome:
    app_id: str
    version: str
    previous: str | None  # the version it replaced
    signed_by: str | None  # key id; None: installed unverified in developer mode
    warnings: list[str] = field(default_factory=list)


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``ID`` or ``ID==VERSION``."""
    app_id, sep, version = spec.partition("==")
    if not app_id or (sep and not version):
        raise AppStoreError(f"bad app spec {spec!r}: expected ID or ID==VERSION")
    return app_id.strip(), version.strip() or None


def verify_release(
    app_id: str, version: str, release: Release, developer_mode: bool, trusted_dir: Path | None
) -> tuple[str | None, list[str]]:
    """The trusted key id that signed `release`; otherwise AppStoreError, or — in developer mode —
    no key id and a warning."""
    trusted = trusted_keys(trusted_dir)
    problem = signature_problem(
        release.signature, release.key_id, release.signed_payload(), trusted
    )
    if problem is None:
        return release.key_id, []
    message = f"app {app_id!r} {version} {problem}"
    if not developer_mode:
        raise AppStoreError(f"{message}; refusing to install it")
    return None, [f"DEVELOPER MODE: {message}; installing it UNVERIFIED"]


def _pip_install(wheels: list[WheelInfo], wheel_dir: Path, target: Path, hashes: list[str]) -> None:
    requirements = wheel_dir.parent / "requirements.txt"
    requirements.write_text(
        "".join(f"{w.name}=={w.version} --hash=sha256:{h}\n" for w, h in zip(wheels, hashes))
    )
    cmd = [
        *(sys.executable, "-m", "pip", "install", "--isolated", "--disable-pip-version-check"),
        *("--no-input", "--require-hashes", "--only-binary", ":all:", "--no-index"),
        # The dependency set was resolved and verified above; pip installs exactly it.
        *("--no-deps", "--find-links", str(wheel_dir), "--target", str(target)),
        *("-r", str(requirements)),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AppStoreError(f"pip install timed out after {PIP_TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()] or ["(no output)"]
        raise AppStoreError(f"pip install failed: {lines[-1].strip()}")


def install(
    spec: str,
    catalog: Catalog,
    *,
    root: Path | None = None,
    developer_mode: bool = False,
    trusted_dir: Path | None = None,
    progress: Progress = _no_progress,
) -> InstallOutcome:
    """Install app ``ID[==VERSION]`` (default: the newest this Vigil's SDK supports, never
    older than the installed one) from `catalog` into the apps root, replacing an installed
    version. The catalog's index is checked too (signature, no rollback). `progress` hears
    of each step (the dashboard's install jobs show them)."""
    root = root or apps_root()
    progress("checking the catalog and the signature", 0.05)
    app_id, version = parse_spec(spec)
    if app_id in BUILTIN_APPS:
        raise AppStoreError(f"app {app_id!r} is built into Vigil, nothing to install")
    version, release = _chosen_release(catalog, app_id, version, root)
    where = f"catalog {catalog.location}: {app_id} {version}"
    manifest = release.app_manifest(where)
    if (manifest.id, manifest.version) != (app_id, version):
        raise AppStoreError(f"{where}: its manifest names {manifest.id} {manifest.version}")
    manifest.check_sdk()
    signed_by, warnings = verify_release(app_id, version, release, developer_mode, trusted_dir)
    check_publisher(app_id, version, release.key_id, root)  # in developer mode too
    warnings += check_index(
        catalog, developer_mode=developer_mode, trusted_dir=trusted_dir, root=root
    )

    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".staging-"))
    try:
        wheel_dir = staging / "wheels"
        wheel_dir.mkdir()
        items = [release, *release.requires]
        progress(f"downloading {len(items)} wheel{'s' if len(items) > 1 else ''}", 0.2)
        paths = [catalog.fetch(item, wheel_dir) for item in items]
        progress("checking the wheels against the signed index", 0.45)
        wheels = [inspect_wheel(p) for p in paths]
        if wheels[0].manifest != manifest:
            raise AppStoreError(
                f"{where}: the manifest inside {release.wheel} differs from the index"
            )
        check_requirements(app_id, wheels[0], wheels[1:])
        app_dir = staging / "app"
        progress("installing the verified wheels", 0.55)
        _pip_install(wheels, wheel_dir, app_dir / "site", [i.sha256 for i in items])
        (app_dir / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")
        progress("activating", 0.9)
        previous = _activate(app_dir, app_id, version, release, signed_by, catalog.identity, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return InstallOutcome(app_id, version, previous, signed_by, warnings)


def _chosen_release(
    catalog: Catalog, app_id: str, version: str | None, root: Path
) -> tuple[str, Release]:
    """`version` of `app_id` in `catalog`; without one, the newest this SDK supports unless
    the installed version is newer (AppStoreError: an install never downgrades unasked)."""
    if version is not None:
        releases = catalog.releases(app_id)
        if version not in releases:
            known = ", ".join(sorted(releases, key=Version))
            raise AppStoreError(f"app {app_id!r} has no version {version} (published: {known})")
        return version, releases[version]
    version, release = catalog.newest(app_id)
    installed = read_records(root).get(app_id)
    if installed is not None and Version(installed.version) > Version(version):
        raise AppStoreError(
            f"app {app_id!r} {installed.version} is installed, newer than the catalog's "
            f"{version}: install {app_id}=={version} to downgrade"
        )
    return version, release


def _activate(
    app_dir: Path,
    app_id: str,
    version: str,
    release: Release,
    signed_by: str | None,
    catalog_identity: str,
    root: Path,
) -> str | None:
    """Move the verified, staged `app_dir` into place and record it in installed.json, under
    the apps root's lock; the version it replaced."""
    with locked(root):
        # again, under the lock: another install may have pinned the id since
        check_publisher(app_id, version, release.key_id, root)
        final = version_dir(root, app_id, version)
        if final.exists():  # reinstalling the same version
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        app_dir.rename(final)
        records = read_records(root)
        previous = records.get(app_id)
        records[app_id] = InstallRecord(
            version=version,
            sha256=release.sha256,
            catalog=catalog_identity,
            signed_by=signed_by,
            installed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        keep_publisher(app_id, version, signed_by, catalog_identity, root)
        write_records(records, root)
        # The version it replaces stays (a running service may still restart its sandbox
        # from it) until the next install of this app; older ones go.
        keep = {version, previous.version if previous else version}
        for old in final.parent.iterdir():
            if old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)
    return previous.version if previous else None


def require_installed(app_id: str, records: dict[str, InstallRecord]) -> InstallRecord:
    """`app_id`'s record; AppStoreError when it is not installed from the store."""
    if app_id not in records:
        builtin = " (it is built into Vigil)" if app_id in BUILTIN_APPS else ""
        raise AppStoreError(f"app {app_id!r} is not installed from the store{builtin}")
    return records[app_id]


def remove(app_id: str, root: Path | None = None) -> str:
    """Uninstall a store app; the version removed."""
    root = root or apps_root()
    with locked(root):
        records = read_records(root)
        record = require_installed(app_id, records)
        keep_publisher(app_id, record.version, None, record.catalog, root)  # the pin stays
        del records[app_id]
        write_records(records, root)  # first: a half-deleted directory is never active
        shutil.rmtree(root / app_id, ignore_errors=True)
    return record.version


def upgrade(
    app_id: str | None = None,
    catalog: str | None = None,
    *,
    root: Path | None = None,
    developer_mode: bool = False,
    trusted_dir: Path | None = None,
) -> list[InstallOutcome]:
    """Upgrade one installed app (or all) to the newest version its catalog (or `catalog`)
    offers for this SDK; the upgrades made. An app already up to date — or newer than what
    the catalog offers — is left alone: an upgrade never downgrades."""
    root = root or apps_root()
    records = read_records(root)
    if app_id is not None:
        require_installed(app_id, records)
    outcomes = []
    for name in [app_id] if app_id else sorted(records):
        source = Catalog(catalog or records[name].catalog)
        # first: a rolled-back index would hide the newer versions (its warnings in developer
        # mode come again from the install, if there is one)
        check_index(source, developer_mode=developer_mode, trusted_dir=trusted_dir, root=root)
        newest, _ = source.newest(name)
        if Version(newest) > Version(records[name].version):
            outcomes.append(
                install(
                    f"{name}=={newest}",
                    source,
                    root=root,
                    developer_mode=developer_mode,
                    trusted_dir=trusted_dir,
                )
            )
    return outcomes
