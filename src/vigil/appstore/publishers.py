"""Which vendor key publishes each app id: the key of its first verified install, pinned.

Any trusted key verifies any release, so without more a release of an installed app signed
by another trusted vendor's key — same id, same vendor name — would replace it at the next
upgrade. The first verified install of an app id therefore pins the id to the key that
signed it (trust on first use), in ``<apps root>/publishers.json``; the pin stays when the
app is removed. An install or upgrade signed by another key is refused, in developer mode
too. Only the operator moves an app id to another key (``vigil store trust KEY.pub
--for-app ID``, which may also pin an id before its first install), and every pin and move
is appended to ``<apps root>/publishers.log``.

An app installed before pins existed is pinned to the key its installed.json record names.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from vigil.apps.manifest import APP_ID_PATTERN
from vigil.apps.registry import BUILTIN_APPS
from vigil.appstore import AppStoreError
from vigil.appstore.installed import apps_root, atomic_write, locked, read_records

PINS_FILENAME = "publishers.json"
AUDIT_FILENAME = "publishers.log"


@dataclass(frozen=True)
class Pin:
    key_id: str  # the only key whose releases of the app are installed
    since: str  # ISO 8601 UTC
    reason: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return f"uid {os.getuid()}"


def _pinned(root: Path) -> dict[str, Pin]:
    """publishers.json."""
    path = root / PINS_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {app_id: Pin(**pin) for app_id, pin in data["apps"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # Never "start afresh" silently: that would let any trusted key take over every app.
        raise AppStoreError(f"{path}: unreadable ({exc}); restore it from a backup") from None


def read_pins(root: Path | None = None) -> dict[str, Pin]:
    """The pinned publisher of each app id: publishers.json, else for an app installed before
    pins existed, the key its installed.json record names."""
    root = root or apps_root()
    pins = _pinned(root)
    for app_id, record in read_records(root).items():
        if app_id not in pins and record.signed_by is not None:
            pins[app_id] = Pin(record.signed_by, record.installed_at, "installed before pinning")
    return pins


def _record(root: Path, app_id: str, pin: Pin, previous: Pin | None) -> None:
    """Write `pin` and append it to the audit log (the caller holds the lock)."""
    pins = read_pins(root)
    pins[app_id] = pin
    data = {"apps": {k: asdict(v) for k, v in sorted(pins.items())}}
    atomic_write(root / PINS_FILENAME, json.dumps(data, indent=2) + "\n")
    entry = {
        "time": pin.since,
        "app": app_id,
        "from": previous.key_id if previous is not None else None,
        "to": pin.key_id,
        "reason": pin.reason,
        "by": _operator(),
    }
    with (root / AUDIT_FILENAME).open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def check_publisher(
    app_id: str, version: str, signer: str | None, root: Path | None = None
) -> None:
    """AppStoreError (one line) when `app_id` is pinned to a key other than `signer`, the key
    that release `version` says signed it (None: unsigned, only developer mode installs it)."""
    pin = read_pins(root).get(app_id)
    if signer is None or pin is None or pin.key_id == signer:
        return
    raise AppStoreError(
        f"app {app_id!r} {version} is signed by key {signer}, but {app_id!r} is published by "
        f"key {pin.key_id} (pinned {pin.since}): refusing it; if its vendor changed keys, "
        f"move it with 'vigil store trust NEW_KEY.pub --for-app {app_id}'"
    )


def keep_publisher(
    app_id: str, version: str, signed_by: str | None, catalog: str, root: Path
) -> None:
    """Before `app_id`'s installed record changes to `version`, make its pin durable in
    publishers.json: the pin it has (a record from before pins included), else — first
    verified install — the key `signed_by` that verified it (None: unverified, nothing to
    pin). `check_publisher` has compared them already; the caller holds the lock."""
    if app_id in _pinned(root):
        return
    pin = read_pins(root).get(app_id)
    if pin is None and signed_by is not None:
        pin = Pin(signed_by, _now(), f"first verified install: {version} from {catalog}")
    if pin is not None:
        _record(root, app_id, pin, None)


def check_app_id(app_id: str) -> None:
    """AppStoreError unless `app_id` could be a store app's id."""
    if app_id in BUILTIN_APPS:
        raise AppStoreError(f"app {app_id!r} is built into Vigil, it has no publisher key")
    if not re.fullmatch(APP_ID_PATTERN, app_id):
        raise AppStoreError(f"{app_id!r} is not an app id (expected {APP_ID_PATTERN})")


def transfer(app_id: str, key_id: str, root: Path | None = None) -> Pin | None:
    """Pin `app_id` to `key_id` by the operator's decision (logged); the pin it replaces."""
    check_app_id(app_id)
    root = root or apps_root()
    with locked(root):
        previous = read_pins(root).get(app_id)
        if previous is None or previous.key_id != key_id:
            _record(root, app_id, Pin(key_id, _now(), "set by the operator"), previous)
    return previous
