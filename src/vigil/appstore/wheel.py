"""What a wheel declares: its distribution name and version, its requirements, and — for an
app — its ``vigil.apps`` entry point and the ``vigil-app.json`` manifest it carries.

An app wheel has exactly one ``vigil.apps`` entry point, named like the app id, whose value is
the manifest's ``entry_point``; the manifest is ``vigil-app.json`` in the top-level package of
the entry point's module (``queue_length.app:QueueLength`` → ``queue_length/vigil-app.json``).
"""

from __future__ import annotations

import configparser
import json
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from vigil.apps.manifest import (
    ENTRY_POINT_GROUP,
    MANIFEST_FILENAME,
    AppManifest,
    parse_manifest,
)
from vigil.appstore import AppStoreError


@dataclass(frozen=True)
class WheelInfo:
    filename: str
    name: str  # canonical distribution name
    version: str
    requires: tuple[Requirement, ...]
    manifest: AppManifest | None  # None: a plain dependency wheel


def _read(zf: zipfile.ZipFile, member: str, where: str) -> str:
    try:
        return zf.read(member).decode("utf-8")
    except KeyError:
        raise AppStoreError(f"{where}: {member} missing from the wheel") from None


def inspect_wheel(path: Path) -> WheelInfo:
    """Read `path`'s metadata; AppStoreError naming the wheel if it is not a valid wheel or its
    entry point and manifest disagree."""
    where = path.name
    try:
        dist, version, _, _ = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        raise AppStoreError(f"{where}: not a wheel file name ({exc})") from None
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise AppStoreError(f"{where}: unreadable wheel ({exc})") from None
    with zf:
        info_dirs = {
            n.split("/")[0] for n in zf.namelist() if n.split("/")[0].endswith(".dist-info")
        }
        if len(info_dirs) != 1:
            raise AppStoreError(
                f"{where}: expected one .dist-info directory, found {len(info_dirs)}"
            )
        info = info_dirs.pop()
        metadata = HeaderParser().parsestr(_read(zf, f"{info}/METADATA", where))
        declared = (canonicalize_name(metadata.get("Name", "")), metadata.get("Version", ""))
        if declared != (canonicalize_name(dist), str(version)):
            raise AppStoreError(
                f"{where}: its metadata names {declared[0]} {declared[1]}, not {dist} {version}"
            )
        try:
            requires = tuple(Requirement(r) for r in metadata.get_all("Requires-Dist") or [])
        except InvalidRequirement as exc:
            raise AppStoreError(f"{where}: bad Requires-Dist ({exc})") from None
        manifest = _app_manifest(zf, info, where)
    if manifest is not None and manifest.version != str(version):
        raise AppStoreError(
            f"{where}: manifest version {manifest.version} differs from the wheel's {version}"
        )
    return WheelInfo(path.name, canonicalize_name(dist), str(version), requires, manifest)


def _app_manifest(zf: zipfile.ZipFile, info: str, where: str) -> AppManifest | None:
    if f"{info}/entry_points.txt" not in zf.namelist():
        return None
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
    parser.read_string(_read(zf, f"{info}/entry_points.txt", where))
    if not parser.has_section(ENTRY_POINT_GROUP):
        return None
    entries = dict(parser.items(ENTRY_POINT_GROUP))
    if len(entries) != 1:
        raise AppStoreError(
            f"{where}: an app wheel has one {ENTRY_POINT_GROUP} entry point, not {len(entries)}"
        )
    ((name, value),) = entries.items()
    value = value.strip()
    member = f"{value.split(':')[0].split('.')[0]}/{MANIFEST_FILENAME}"
    try:
        data = json.loads(_read(zf, member, where))
    except json.JSONDecodeError as exc:
        raise AppStoreError(f"{where}: {member}: not JSON ({exc})") from None
    manifest = parse_manifest(data, f"{where}: {member}")
    if (manifest.id, manifest.entry_point) != (name, value):
        raise AppStoreError(
            f"{where}: entry point {name} = {value} does not match the manifest's "
            f"id {manifest.id!r} and entry_point {manifest.entry_point!r}"
        )
    return manifest
