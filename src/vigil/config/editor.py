"""Edit the site YAML of `vigil serve` in place: a camera's zones, lines, apps and static
privacy masks (``privacy: {static: [...]}``).

The file stays the single source of truth, and stays the user's file: it is edited with
ruamel.yaml's round-trip mode, and only what changed is replaced, so comments, key order,
quoting and ``${VAR}`` placeholders elsewhere survive. Every edit is checked by the
`check` the editor is given (`vigil serve`'s own check of the file at start: `load_config`
with `SiteConfig`, then `validate_site`) before anything is written; a refused edit is a
`ConfigError` of one line naming the file, the key path and the value, and the file is left
as it was.

Writes are atomic (a temporary file beside the site file, fsynced, then `os.replace`, with
the file's mode kept), so a `vigil serve` watching the file never reads half of it. Edits
are serialised by an advisory lock on a sidecar file (``.site.yaml.lock``): the dashboard
and `vigil apps enable` may edit at once; one of them waits briefly, then gets
`EditConflict`. A reader may also pass the `revision` it read: an edit based on an older
revision is refused with `EditConflict` rather than silently undoing another edit.

Pure configuration work: the check is passed in, so this module knows nothing of the service
that runs the file. `SiteChanges` is what a running service reports after applying it.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from vigil.config.loader import load_config_text
from vigil.errors import ConfigError, VigilError

__all__ = [
    "EditConflict",
    "SiteChanges",
    "SiteCheck",
    "SiteEditor",
    "UnknownApp",
    "UnknownCamera",
]

LOCK_WAIT_S = 2.0  # how long an edit waits for another one to finish before giving up


class EditConflict(VigilError):
    """Another edit holds the site file, or the file changed since the caller read it."""


class UnknownCamera(VigilError):
    """The site file has no camera with that id."""


class UnknownApp(VigilError):
    """The camera has no app instance with that name."""


SiteT = TypeVar("SiteT")
#: Checks a site file's text exactly as `vigil serve` does at start: the site, or a
#: `ConfigError` of one line naming the file, the key path and the value.
SiteCheck = Callable[[str, Path], SiteT]


@dataclass(frozen=True, slots=True)
class SiteChanges:
    """What a running service did when it applied the site file.

    `error`: the file was refused (one line; the running configuration is kept).
    `reconfigured`: camera -> the generation of the `Reconfigure` sent to its worker (its
    `Reconfigured` answer carries the same number). `restarted`, `started`, `stopped`:
    camera ids. `restart_needed`: changed sections that apply at the next start only.
    """

    error: str | None = None
    reconfigured: dict[str, int] = field(default_factory=dict)
    restarted: tuple[str, ...] = ()
    started: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    restart_needed: tuple[str, ...] = ()


def revision_of(data: bytes) -> str:
    """A short content hash: what `revision` arguments are compared with."""
    return hashlib.sha256(data).hexdigest()[:16]


Layout = tuple[int, int, int]  # ruamel's indents: mapping, sequence, dash offset
#: Indentation styles people write (ruamel applies one to the whole file when it writes).
LAYOUTS: tuple[Layout, ...] = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4), (4, 4, 0), (4, 2, 0))


def _yaml(layout: Layout = LAYOUTS[0]) -> YAML:
    yaml = YAML()  # round-trip: comments, order and styles are kept
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long URL onto two lines
    mapping, sequence, offset = layout
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(document: CommentedMap, layout: Layout) -> str:
    out = io.StringIO()
    _yaml(layout).dump(document, out)
    return out.getvalue()


def _layout_of(text: str, document: CommentedMap) -> Layout:
    """The indentation the file is written in: the layout that writes it back unchanged,
    else the closest one, so an edit does not re-indent the lines it did not change."""
    best, best_ratio = LAYOUTS[0], -1.0
    for layout in LAYOUTS:
        written = _dump(document, layout)
        if written == text:
            return layout
        ratio = difflib.SequenceMatcher(None, text.splitlines(), written.splitlines()).ratio()
        if ratio > best_ratio:
            best, best_ratio = layout, ratio
    return best


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (for JSON and pydantic)."""
    if isinstance(node, Mapping):
        return {str(k) if isinstance(k, (int, float)) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


FLOW_WIDTH = 80  # containers of scalars up to this wide go on one line: {points: [[0, 0], ...]}


def _node(value: Any) -> Any:
    """A new YAML node for `value`; small containers in flow style, as people write them."""
    node: CommentedMap | CommentedSeq
    if isinstance(value, Mapping):
        mapping = CommentedMap((k, _node(v)) for k, v in value.items())
        node, children = mapping, list(mapping.values())
    elif isinstance(value, (list, tuple)):
        sequence = CommentedSeq(_node(v) for v in value)
        node, children = sequence, list(sequence)
    else:
        return value
    # Scalars and flow lists inside: `{points: [[0, 0], ...]}`, `{zone: door}`; a mapping
    # holding a mapping (an app with its settings) reads better as a block.
    flat = all(
        not isinstance(c, (CommentedMap, CommentedSeq))
        or (isinstance(c, CommentedSeq) and c.fa.flow_style())
        for c in children
    )
    if flat and len(json.dumps(value, default=str)) <= FLOW_WIDTH:
        node.fa.set_flow_style()
    return node


def _merge(old: Any, new: Any) -> Any:
    """`new` written over `old`, keeping `old`'s nodes (and their comments and styles)
    wherever the value did not change."""
    if isinstance(old, CommentedMap) and isinstance(new, Mapping):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = _merge(old[key], value) if key in old else _node(value)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, (list, tuple)):
        if not new and old:
            return _node(new)
        for i, value in enumerate(new):
            if i < len(old):
                old[i] = _merge(old[i], value)
            else:
                old.append(_node(value))
        del old[len(new) :]
        return old
    if type(_plain(old)) is type(new) and _plain(old) == new:
        return old  # same value: keep its quoting and number format
    return _node(new)


def _compact_app(app: Mapping[str, Any]) -> dict[str, Any]:
    """An app entry without the keys that only repeat their defaults (``enabled: true``,
    empty ``settings``), as a person would write it."""
    return {
        k: v
        for k, v in app.items()
        if not (k == "enabled" and v is True) and not (k == "settings" and not v)
    }


class SiteEditor(Generic[SiteT]):
    """Reads and edits one site file, each edit checked by `check`; see the module
    docstring."""

    def __init__(self, path: str | os.PathLike[str], check: SiteCheck[SiteT]):
        self.path = Path(path)
        self._check = check
        # Writes go to the real file: replacing a symlink would detach it from its target.
        self._target = self.path.resolve()
        self._lock_path = self._target.with_name(f".{self._target.name}.lock")

    # ------------------------------------------------------------------ reading

    def read(self) -> tuple[CommentedMap, str]:
        """The parsed document and its revision."""
        data = self._read_bytes()
        return self._parse(data), revision_of(data)

    def camera_scene(self, camera_id: str) -> tuple[dict[str, Any], str]:
        """The camera's zones, lines, apps and static privacy masks as written in the file
        (placeholders such as ``${VAR}`` unexpanded, so no secret leaves the file), and the
        file's revision."""
        document, revision = self.read()
        camera = self._camera(document, camera_id)
        scene: dict[str, Any] = {
            "zones": _plain(camera.get("zones") or {}),
            "lines": _plain(camera.get("lines") or {}),
            "apps": _plain(camera.get("apps") or []),
            "static_masks": _plain((camera.get("privacy") or {}).get("static") or []),
        }
        return scene, revision

    # ------------------------------------------------------------------ editing

    def replace_scene(
        self,
        camera_id: str,
        zones: Mapping[str, Any],
        lines: Mapping[str, Any],
        apps: Sequence[Mapping[str, Any]],
        *,
        static_masks: Sequence[Mapping[str, Any]] | None = None,
        revision: str | None = None,
    ) -> SiteT:
        """Make the camera's zones, lines and apps these (plain data, as in the YAML), and
        its static privacy masks `static_masks` unless None (the rest of its ``privacy:``
        section stays)."""
        with self._editing(revision) as (document, layout):
            camera = self._camera(document, camera_id)
            self._set_section(camera, "zones", dict(zones))
            self._set_section(camera, "lines", dict(lines))
            self._set_section(camera, "apps", [dict(a) for a in apps])
            if static_masks is not None:
                self._set_static_masks(camera, [dict(m) for m in static_masks])
            return self._save(document, layout)

    def set_app(
        self,
        camera_id: str,
        name: str,
        app_type: str,
        settings: Mapping[str, Any],
        enabled: bool = True,
        *,
        revision: str | None = None,
    ) -> SiteT:
        """Add app instance `name` to the camera, or replace the one of that name."""
        with self._editing(revision) as (document, layout):
            camera = self._camera(document, camera_id)
            apps = [_plain(a) for a in camera.get("apps") or []]
            entry = {"type": app_type, "name": name, "settings": dict(settings), "enabled": enabled}
            index = self._app_index(apps, name)
            if index is None:
                apps.append(entry)
            else:
                apps[index] = entry
            self._set_section(camera, "apps", apps)
            return self._save(document, layout)

    def remove_app(self, camera_id: str, name: str, *, revision: str | None = None) -> SiteT:
        """Remove app instance `name` from the camera; `UnknownApp` when it has none."""
        with self._editing(revision) as (document, layout):
            camera = self._camera(document, camera_id)
            apps = [_plain(a) for a in camera.get("apps") or []]
            index = self._app_index(apps, name)
            if index is None:
                raise UnknownApp(f"camera {camera_id!r} has no app named {name!r}")
            del apps[index]
            self._set_section(camera, "apps", apps)
            return self._save(document, layout)

    # ------------------------------------------------------------------ internals

    def _read_bytes(self) -> bytes:
        try:
            return self._target.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{self.path}: file not found") from None
        except OSError as err:
            raise ConfigError(f"{self.path}: cannot read file: {err.strerror or err}") from None

    def _parse(self, data: bytes) -> CommentedMap:
        try:
            document = _yaml().load(data.decode("utf-8-sig"))
        except (YAMLError, UnicodeDecodeError) as err:
            # `vigil serve`'s loader words YAML errors as one line with line and column.
            load_config_text(data.decode("utf-8-sig", errors="replace"), self.path)
            raise ConfigError(f"{self.path}: {' '.join(str(err).split())}") from None
        if not isinstance(document, CommentedMap):
            raise ConfigError(f"{self.path}: top level must be a mapping of sections")
        return document

    @staticmethod
    def _camera(document: CommentedMap, camera_id: str) -> CommentedMap:
        for camera in document.get("cameras") or []:
            if isinstance(camera, CommentedMap) and str(camera.get("id")) == camera_id:
                return camera
        known = ", ".join(str(c.get("id")) for c in document.get("cameras") or [])
        raise UnknownCamera(f"unknown camera {camera_id!r} (known: {known})")

    @staticmethod
    def _app_index(apps: Sequence[Mapping[str, Any]], name: str) -> int | None:
        for i, app in enumerate(apps):
            if (app.get("name") or app.get("type")) == name:
                return i
        return None

    @staticmethod
    def _set_section(camera: CommentedMap, key: str, value: Any) -> None:
        kept = list(camera.get(key) or []) if key == "apps" else []
        if key == "apps":
            value = [_compact_app(app) for app in value]
        if not value:
            if key in camera:
                del camera[key]  # an empty section reads better absent
            return
        if camera.get(key) is not None:
            camera[key] = _merge(camera[key], value)
        else:
            node = _node(value)
            node.fa.set_block_style()  # a section of its own, like the rest of the file
            if key != "apps" and "apps" in camera:  # shapes before the apps that use them
                camera.insert(list(camera).index("apps"), key, node)
            else:
                camera[key] = node
        if key == "apps":  # a new app entry reads better as a block, like the YAML examples
            existing = {id(app) for app in kept}
            for app in camera["apps"]:
                if isinstance(app, CommentedMap) and id(app) not in existing:
                    app.fa.set_block_style()

    @classmethod
    def _set_static_masks(cls, camera: CommentedMap, masks: list[dict[str, Any]]) -> None:
        """``privacy: {static: masks}``; a ``privacy:`` section left empty goes."""
        if camera.get("privacy") is None:
            if not masks:
                return
            camera["privacy"] = CommentedMap()
            camera["privacy"].fa.set_block_style()
        cls._set_section(camera["privacy"], "static", masks)
        if not camera["privacy"]:
            del camera["privacy"]

    @contextlib.contextmanager
    def _editing(self, revision: str | None) -> Iterator[tuple[CommentedMap, Layout]]:
        """The document to edit (and its layout), under the lock."""
        with self._locked():
            data = self._read_bytes()
            current = revision_of(data)
            if revision is not None and revision != current:
                raise EditConflict(
                    f"{self.path} changed since it was read (revision {revision}, now "
                    f"{current}): reload and edit again"
                )
            document = self._parse(data)
            yield document, _layout_of(data.decode("utf-8-sig"), document)

    def _save(self, document: CommentedMap, layout: Layout) -> SiteT:
        text = _dump(document, layout)
        site = self._check(text, self.path)  # raises: nothing is written
        self._write(text.encode("utf-8"))
        return site

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + LOCK_WAIT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise EditConflict(
                            f"{self.path} is being edited by someone else: try again"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _write(self, data: bytes) -> None:
        target = self._target
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            stat = os.stat(target)
            os.chmod(temp, stat.st_mode & 0o7777)  # mkstemp makes it 0600
            with contextlib.suppress(PermissionError):  # only root may give files away
                os.chown(temp, stat.st_uid, stat.st_gid)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)
