"""A catalog: a static directory (local, ``file://`` or ``http(s)://``) holding ``index.json``
and the wheels it lists.

``index.json``::

    {"format": 1, "serial": <n>, "timestamp": "<ISO 8601 UTC>",
     "signature": "<base64 ed25519>" | null, "key_id": "<16 hex>" | null,
     "apps": {"<app id>": {"<version>": {
         "wheel": "<file name>", "sha256": "<hex>", "size": <bytes>,
         "manifest": {<the app's vigil-app.json>},
         "requires": [{"wheel": ..., "sha256": ..., "size": ...}],   # bundled dependencies
         "signature": "<base64 ed25519>" | null, "key_id": "<16 hex>" | null,
         "published": "<ISO 8601 UTC>"}}}}

The signature covers the canonical JSON of wheel, sha256, size, manifest and requires
(`Release.signed_payload`): editing any of them, or any byte of a wheel, is detected.

All signed releases of an app carry the same key: a catalog listing an app signed by two
keys is refused as a whole (a vendor changing keys re-signs its releases: ``vigil store
publish --rotate-key``; each operator then moves the app to the new key,
`vigil.appstore.publishers`).

The index as a whole is signed too (`CatalogIndex.signed_payload`: everything but its own
signature), with a ``serial`` that each publication increases: a client remembers the highest
serial it has seen of each catalog (`vigil.appstore.freshness`), so a catalog that hides newer
versions by serving an older, validly signed index is refused.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vigil.apps.base import SDK_VERSION
from vigil.apps.manifest import AppManifest, canonical_json, parse_manifest
from vigil.appstore import AppStoreError
from vigil.errors import format_key_path

INDEX_FILENAME = "index.json"
FETCH_TIMEOUT_S = 30.0


class CatalogWheel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A bare file name: a catalog entry must not point outside the catalog.
    wheel: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+!-]*\.whl$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Release(CatalogWheel):
    """One published version of an app."""

    manifest: dict[str, Any]
    requires: list[CatalogWheel] = Field(default_factory=list)
    signature: str | None = None
    key_id: str | None = None
    published: str = ""

    def signed_payload(self) -> bytes:
        return canonical_json(
            {
                "wheel": self.wheel,
                "sha256": self.sha256,
                "size": self.size,
                "manifest": self.manifest,
                "requires": [r.model_dump() for r in self.requires],
            }
        )

    def app_manifest(self, where: str) -> AppManifest:
        return parse_manifest(self.manifest, where)


class CatalogIndex(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = 1
    serial: int = Field(default=0, ge=0)  # +1 on each publication: an older index has a lower one
    timestamp: str = ""  # of that publication
    apps: dict[str, dict[str, Release]] = Field(default_factory=dict)
    signature: str | None = None
    key_id: str | None = None

    @field_validator("apps")
    @classmethod
    def _versions(cls, apps: dict[str, dict[str, Release]]) -> dict[str, dict[str, Release]]:
        # Versions are sorted with `Version`: a malformed one is refused here, in one line.
        for app_id, releases in apps.items():
            for version in releases:
                try:
                    Version(version)
                except InvalidVersion:
                    raise ValueError(f"{app_id}: not a version: {version!r}") from None
            signers: dict[str, list[str]] = {}
            for version, release in sorted(releases.items(), key=lambda item: Version(item[0])):
                if release.key_id is not None:
                    signers.setdefault(release.key_id, []).append(version)
            if len(signers) > 1:
                which = "; ".join(f"key {k}: {', '.join(v)}" for k, v in signers.items())
                raise ValueError(
                    f"app {app_id!r} is signed by {len(signers)} keys ({which}): "
                    "one key publishes an app, refusing the catalog"
                )
        return apps

    def signed_payload(self) -> bytes:
        return canonical_json(self.model_dump(mode="json", exclude={"signature", "key_id"}))


def catalog_location(location: str | os.PathLike[str] | None) -> str:
    """The catalog to use: `location`, else ``$VIGIL_CATALOG``; AppStoreError if neither."""
    chosen = os.fspath(location) if location is not None else os.environ.get("VIGIL_CATALOG")
    if not chosen:
        raise AppStoreError("no catalog: pass --catalog DIR|URL or set VIGIL_CATALOG")
    return chosen


class Catalog:
    """Read access to a catalog at a directory path, ``file://`` or ``http(s)://`` URL."""

    def __init__(self, location: str):
        self.location = location
        scheme = urlsplit(location).scheme
        if scheme in ("http", "https"):
            self._base = location.rstrip("/") + "/"
            self.directory: Path | None = None
        elif scheme == "file":
            self.directory = Path(urllib.request.url2pathname(urlsplit(location).path))
        elif scheme:
            raise AppStoreError(f"catalog {location}: unsupported URL scheme {scheme!r}")
        else:
            self.directory = Path(location).expanduser()
        self._index: CatalogIndex | None = None

    @property
    def identity(self) -> str:
        """What names this catalog in installed.json and in the serials seen."""
        return str(self.directory.resolve()) if self.directory is not None else self.location

    def _open(self, name: str, limit: int) -> bytes:
        """The bytes of catalog file `name`, at most `limit` (+1 to detect a longer file)."""
        if self.directory is not None:
            try:
                with (self.directory / name).open("rb") as fh:
                    return fh.read(limit + 1)
            except OSError as exc:
                raise AppStoreError(f"catalog {self.location}: {name}: {exc.strerror}") from None
        try:
            with urllib.request.urlopen(self._base + name, timeout=FETCH_TIMEOUT_S) as resp:
                return resp.read(limit + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise AppStoreError(f"catalog {self.location}: {name}: {exc}") from None

    @property
    def index(self) -> CatalogIndex:
        if self._index is None:
            raw = self._open(INDEX_FILENAME, 64 << 20)
            try:
                self._index = CatalogIndex.model_validate_json(raw)
            except ValidationError as exc:
                err = exc.errors()[0]
                key = format_key_path(err["loc"])
                message = err["ctx"]["error"] if err["type"] == "value_error" else err["msg"]
                raise AppStoreError(
                    f"catalog {self.location}: {INDEX_FILENAME}: {key}: {message}"
                ) from None
        return self._index

    def releases(self, app_id: str) -> dict[str, Release]:
        releases = self.index.apps.get(app_id)
        if not releases:
            raise AppStoreError(f"catalog {self.location}: no app {app_id!r}")
        return releases

    def newest(self, app_id: str, sdk_version: str | None = SDK_VERSION) -> tuple[str, Release]:
        """The newest release of `app_id` whose SDK requirement `sdk_version` meets (None: the
        newest); AppStoreError naming the newest's requirement when none does."""
        releases = self.releases(app_id)
        ordered = sorted(releases, key=Version, reverse=True)
        for version in ordered:
            manifest = releases[version].app_manifest(f"catalog {self.location}: {app_id}")
            if sdk_version is None or manifest.sdk_satisfied(sdk_version):
                return version, releases[version]
        newest = releases[ordered[0]].manifest.get("sdk")
        raise AppStoreError(
            f"app {app_id!r}: every version needs another app SDK (newest: {newest!r}), "
            f"this Vigil provides SDK {sdk_version}"
        )

    def fetch(self, item: CatalogWheel, dest_dir: Path) -> Path:
        """Copy `item`'s wheel into `dest_dir` and check its size and sha256 against the
        index; AppStoreError (nothing kept) on a mismatch."""
        data = self._open(item.wheel, item.size)
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != item.size or digest != item.sha256:
            raise AppStoreError(
                f"catalog {self.location}: {item.wheel}: sha256 {digest} does not match "
                f"the index ({item.sha256}): the file was altered, refusing it"
            )
        path = dest_dir / item.wheel
        path.write_bytes(data)
        return path
