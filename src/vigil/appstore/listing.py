"""What a catalog offers, as ``vigil store search`` and the dashboard's store page show it: per
app its newest release for this SDK, the signature's standing (trusted key, intact, the app
id's pinned publisher) and what is installed. Reading the index checks it the way an install
does (`vigil.appstore.freshness`): a rolled-back index is refused, a badly signed one is
listed with its problem (only developer mode installs from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from packaging.version import Version

from vigil.apps.manifest import AppManifest
from vigil.appstore import AppStoreError
from vigil.appstore.catalog import Catalog, Release
from vigil.appstore.freshness import check_serial, index_problem
from vigil.appstore.installed import installed_apps
from vigil.appstore.keys import signature_problem, trusted_keys
from vigil.appstore.publishers import Pin, read_pins

SignatureStatus = Literal["verified", "unsigned", "untrusted", "altered", "other_publisher"]


@dataclass(frozen=True)
class ReleaseSignature:
    """How a release stands against the trusted keys and the app id's pinned publisher."""

    status: SignatureStatus  # "verified": an install accepts it
    key_id: str | None  # the key the release names
    publisher: str | None  # the key the app id is pinned to here (None: not pinned yet)
    problem: str | None  # one line when not verified

    @property
    def trusted(self) -> bool:
        return self.status in ("verified", "altered", "other_publisher")


@dataclass(frozen=True)
class Listing:
    """One app of a catalog: its newest release this Vigil's SDK runs (else its newest)."""

    version: str
    manifest: AppManifest
    versions: list[str]  # every published version, newest first
    sdk_ok: bool
    signature: ReleaseSignature
    installed: str | None  # the installed version of this app id, if any
    changes: list[str]  # what it receives or does beyond the installed version

    @property
    def upgrade(self) -> bool:
        return self.installed is not None and Version(self.version) > Version(self.installed)


@dataclass(frozen=True)
class CatalogListing:
    location: str
    index_problem: str | None  # the index's signature problem, completing "index.json ..."
    apps: dict[str, Listing]


def permission_changes(installed: AppManifest | None, offered: AppManifest) -> list[str]:
    """What `offered` receives or does that the `installed` version did not (an upgrade asks
    again for these); empty when nothing is installed."""
    if installed is None:
        return []
    changes = []
    if offered.needs_pixels and not installed.needs_pixels:
        changes.append("now receives the video pixels, not only tracks")
    if offered.network and not installed.network:
        changes.append("now has network access")
    new_events = [e for e in offered.events if e not in installed.events]
    if new_events:
        changes.append(f"emits new event types: {', '.join(new_events)}")
    return changes


def release_signature(
    app_id: str, release: Release, trusted: dict[str, Ed25519PublicKey], pins: dict[str, Pin]
) -> ReleaseSignature:
    """`release`'s standing, checked as `vigil.appstore.install.verify_release` and
    `check_publisher` check it."""
    pin = pins.get(app_id)
    publisher = pin.key_id if pin is not None else None
    problem = signature_problem(
        release.signature, release.key_id, release.signed_payload(), trusted
    )
    status: SignatureStatus
    if release.signature is None or release.key_id is None:
        status = "unsigned"
    elif release.key_id not in trusted:
        status = "untrusted"
    elif problem is not None:
        status = "altered"
    elif publisher is not None and publisher != release.key_id:
        status = "other_publisher"
        problem = (
            f"is signed by key {release.key_id}, but {app_id!r} is published here by key "
            f"{publisher}"
        )
    else:
        status = "verified"
    return ReleaseSignature(status, release.key_id, publisher, problem)


def browse(
    catalog: Catalog, root: Path | None = None, trusted_dir: Path | None = None
) -> CatalogListing:
    """Every app of `catalog` (AppStoreError, one line, on an unreadable or rolled-back
    index)."""
    problem = index_problem(catalog, trusted_dir)
    check_serial(catalog, verified=problem is None, root=root)
    trusted = trusted_keys(trusted_dir)
    pins = read_pins(root)
    installed = {app_id: app.manifest for app_id, app in installed_apps(root).items()}
    apps = {}
    for app_id in sorted(catalog.index.apps):
        try:
            version, release = catalog.newest(app_id)
            sdk_ok = True
        except AppStoreError:  # no version for this SDK: show the newest, marked
            version, release = catalog.newest(app_id, None)
            sdk_ok = False
        manifest = release.app_manifest(f"catalog {catalog.location}: {app_id}")
        current = installed.get(app_id)
        apps[app_id] = Listing(
            version=version,
            manifest=manifest,
            versions=sorted(catalog.releases(app_id), key=Version, reverse=True),
            sdk_ok=sdk_ok,
            signature=release_signature(app_id, release, trusted, pins),
            installed=current.version if current is not None else None,
            changes=permission_changes(current, manifest),
        )
    return CatalogListing(catalog.location, problem, apps)
