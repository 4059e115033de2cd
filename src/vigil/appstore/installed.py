"""The record of installed store apps, shared by the installer and the sandbox (contract C).

Layout under the apps root (``VIGIL_APPS_DIR``, else ``~/.local/share/vigil/apps``)::

    <root>/installed.json                  {"apps": {id: InstallRecord fields}}
    <root>/<id>/<version>/manifest.json    the app's manifest, as verified at install time
    <root>/<id>/<version>/site/            pip --target dir: the app package and its dependencies

``installed.json`` is the only source of truth for what is active: a version directory it
does not name is ignored (a half-finished install is never picked up).
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from vigil.apps.manifest import AppManifest, ManifestError, load_manifest

INSTALLED_FILENAME = "installed.json"


def apps_root() -> Path:
    """Where store apps are installed: ``$VIGIL_APPS_DIR`` or ``~/.local/share/vigil/apps``."""
    env = os.environ.get("VIGIL_APPS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "vigil" / "apps"


@dataclass(frozen=True)
class InstalledApp:
    """One installed app: ``root`` is its version directory ``<apps root>/<id>/<version>``,
    ``site_dir`` the directory to put on ``sys.path`` to import its entry point."""

    manifest: AppManifest
    root: Path
    site_dir: Path


@dataclass(frozen=True)
class InstallRecord:
    """What installed.json remembers about an app besides its manifest."""

    version: str
    sha256: str  # of the installed wheel
    catalog: str  # where it came from
    signed_by: str | None  # fingerprint of the trusted key that verified it; None = developer mode
    installed_at: str  # ISO 8601 UTC


def version_dir(root: Path, app_id: str, version: str) -> Path:
    return root / app_id / version


def read_records(root: Path | None = None) -> dict[str, InstallRecord]:
    """installed.json as records by app id ({} when nothing is installed)."""
    path = (root or apps_root()) / INSTALLED_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable: {exc}") from None
    try:
        return {app_id: InstallRecord(**rec) for app_id, rec in data["apps"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(f"{path}: not an installed-apps record ({exc})") from None


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a reader sees the old or the new file, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_records(records: dict[str, InstallRecord], root: Path | None = None) -> None:
    """Replace installed.json atomically (a reader never sees half a file)."""
    root = root or apps_root()
    root.mkdir(parents=True, exist_ok=True)
    payload = {"apps": {k: asdict(v) for k, v in sorted(records.items())}}
    atomic_write(root / INSTALLED_FILENAME, json.dumps(payload, indent=2, sort_keys=True) + "\n")


@contextmanager
def locked(root: Path | None = None) -> Iterator[None]:
    """Hold the apps root's lock: one install, upgrade or removal changes it at a time."""
    root = root or apps_root()
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def installed_apps(root: Path | None = None) -> dict[str, InstalledApp]:
    """The installed store apps by id, each at the version installed.json names."""
    root = root or apps_root()
    apps = {}
    for app_id, rec in read_records(root).items():
        vdir = version_dir(root, app_id, rec.version)
        apps[app_id] = InstalledApp(load_manifest(vdir / "manifest.json"), vdir, vdir / "site")
    return apps
