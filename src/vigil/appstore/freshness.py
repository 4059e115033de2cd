"""Rollback protection: a catalog may not go back to an older index.

Each catalog's index.json is signed as a whole with a ``serial`` that every publication
increases (`vigil.appstore.catalog`). Whoever serves the catalog could still serve an older,
validly signed index, hiding the versions published since (a fix for a vulnerable app, say).
So the client remembers, per catalog, the highest serial it has verified, in
``<apps root>/catalogs.json``, and refuses an index with a lower serial, or with the same
serial and other contents.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from vigil.appstore import AppStoreError
from vigil.appstore.catalog import INDEX_FILENAME, Catalog
from vigil.appstore.installed import apps_root, atomic_write, locked
from vigil.appstore.keys import signature_problem, trusted_keys

SEEN_FILENAME = "catalogs.json"


@dataclass(frozen=True)
class SeenIndex:
    serial: int
    timestamp: str
    sha256: str  # of its signed payload


def _read_seen(root: Path) -> dict[str, SeenIndex]:
    path = root / SEEN_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: SeenIndex(**v) for k, v in data["catalogs"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AppStoreError(
            f"{path}: unreadable ({exc}); remove it to trust catalogs afresh"
        ) from None


def index_problem(catalog: Catalog, trusted_dir: Path | None = None) -> str | None:
    """What is wrong with the signature of `catalog`'s index (None: signed by a trusted key
    and intact), as words completing "index.json ..."."""
    index = catalog.index
    trusted = trusted_keys(trusted_dir)
    return signature_problem(index.signature, index.key_id, index.signed_payload(), trusted)


def check_serial(catalog: Catalog, verified: bool, root: Path | None = None) -> None:
    """Refuse `catalog`'s index (AppStoreError, one line) if it is older than — or differs at
    the same serial from — the newest seen; remember its serial when it is `verified`."""
    root = root or apps_root()
    index = catalog.index
    where = f"catalog {catalog.location}: {INDEX_FILENAME}"
    digest = hashlib.sha256(index.signed_payload()).hexdigest()
    current = SeenIndex(index.serial, index.timestamp, digest)
    with locked(root):
        seen = _read_seen(root)
        before = seen.get(catalog.identity)
        if before is not None and (
            current.serial < before.serial
            or (current.serial == before.serial and current.sha256 != before.sha256)
        ):
            older = "older than" if current.serial < before.serial else "another index with"
            raise AppStoreError(
                f"{where}: serial {current.serial} ({current.timestamp or 'no date'}) is {older} "
                f"serial {before.serial} ({before.timestamp}) seen before: the catalog was "
                "rolled back or tampered with, refusing it"
            )
        if verified and (before is None or current.serial > before.serial):
            seen[catalog.identity] = current
            data = {"catalogs": {k: asdict(v) for k, v in sorted(seen.items())}}
            atomic_write(root / SEEN_FILENAME, json.dumps(data, indent=2) + "\n")


def check_index(
    catalog: Catalog,
    *,
    developer_mode: bool = False,
    trusted_dir: Path | None = None,
    root: Path | None = None,
) -> list[str]:
    """Verify `catalog`'s index signature against the trusted keys and that it is not older
    than one seen before (`check_serial`). AppStoreError (one line) on a rolled-back index, and
    on a bad signature unless `developer_mode` (then a warning is returned)."""
    problem = index_problem(catalog, trusted_dir)
    warnings = []
    if problem is not None:
        where = f"catalog {catalog.location}: {INDEX_FILENAME}"
        if not developer_mode:
            raise AppStoreError(f"{where} {problem}; refusing the catalog")
        warnings.append(f"DEVELOPER MODE: {where} {problem}; using it UNVERIFIED")
    check_serial(catalog, problem is None, root)
    return warnings
