"""App manifests: what an app declares about itself, for the store, the sandbox and the dashboard.

Every app has one, built-in or third-party. A third-party app ships it as ``vigil-app.json``
in the top-level package of its ``vigil.apps`` entry point's module (`vigil.appstore.wheel`); a
built-in app's manifest is generated from its class (`manifest_for_class`). docs/apps.md
describes the fields.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from jsonschema.exceptions import SchemaError, best_match
from jsonschema.exceptions import ValidationError as SchemaValidationError
from jsonschema.validators import extend, validator_for
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vigil.apps.base import REFERENCE_KEY, REFERENCE_KINDS, SDK_VERSION, App, Scene
from vigil.errors import VigilError, format_key_path

MANIFEST_FILENAME = "vigil-app.json"
"""The manifest's file name, in the top-level package of the app's entry point module."""
ENTRY_POINT_GROUP = "vigil.apps"
"""The entry point group of an app's `App` class; the entry point's name is the app id."""
APP_ID_PATTERN = r"[a-z0-9_]{1,64}"
"""What an app id looks like (a regular expression)."""


class ManifestError(VigilError):
    """A manifest is missing, malformed, or asks for something this Vigil cannot give."""


def _references(schema: Any) -> Iterator[Any]:
    """The values of every `REFERENCE_KEY` in a JSON Schema."""
    if isinstance(schema, dict):
        if REFERENCE_KEY in schema:
            yield schema[REFERENCE_KEY]
        for value in schema.values():
            yield from _references(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _references(value)


def _resolve_in(scene: Scene) -> dict[str, Callable[[Any], object]]:
    """What resolves a name of each reference kind in `scene` (ValueError naming it if absent)."""
    return {"zone": scene.zone, "line": scene.line, "class": lambda c: scene.class_ids([c])}


def _reference_keyword(scene: Scene) -> Callable[..., Iterator[SchemaValidationError]]:
    """A JSON Schema keyword for `REFERENCE_KEY`: the value must name something in `scene`."""
    resolve = _resolve_in(scene)

    def check(validator: Any, kind: str, instance: Any, schema: Any) -> Iterator[Any]:
        # A value of the wrong type is the "type" keyword's error, not this one's.
        if isinstance(instance, bool) or not isinstance(instance, str | int):
            return
        if kind != "class" and not isinstance(instance, str):
            return
        try:
            resolve[kind](instance)
        except ValueError as exc:
            yield SchemaValidationError(str(exc))

    return check


class AppManifest(BaseModel):
    """The public description of an app (``vigil-app.json``); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=f"^{APP_ID_PATTERN}$")
    """The app id: the ``type:`` a configuration names, and its entry point's name."""
    name: str = Field(min_length=1)
    """A human name, shown by ``vigil apps list``, the store and the dashboard."""
    version: str
    """The app's version (PEP 440); equals its wheel's."""
    vendor: str = Field(min_length=1)
    """Who publishes it."""
    description: str = ""
    """One or a few sentences on what it does."""
    sdk: str
    """The SDK versions it works with: a PEP 440 specifier such as ``">=1.1,<2"``."""
    data: Literal["tracks", "pixels"] = "tracks"
    """``tracks`` (tracked boxes only) or ``pixels`` (also the frame's pixels)."""
    network: bool = False
    """Whether its sandbox has network access (none by default)."""
    settings_schema: dict[str, Any] = Field(default_factory=dict)
    """The JSON Schema of its settings (``Settings.model_json_schema()``)."""
    events: list[str] = Field(default_factory=list)
    """The event types it emits (`App.emits`); an event of another type is rejected."""
    entry_point: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """``module:Class`` of its `App` subclass."""

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        try:
            Version(value)
        except InvalidVersion:
            raise ValueError(f"not a version: {value!r}") from None
        return value

    @field_validator("sdk")
    @classmethod
    def _sdk(cls, value: str) -> str:
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError(f"not a version specifier: {value!r}") from None
        return value

    @field_validator("settings_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            validator_for(value).check_schema(value)
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        for kind in _references(value):
            if kind not in REFERENCE_KINDS:
                raise ValueError(
                    f"{REFERENCE_KEY} {kind!r}: expected one of {', '.join(REFERENCE_KINDS)}"
                )
        return value

    @property
    def needs_pixels(self) -> bool:
        """Whether the app reads the frame's pixels (``data == "pixels"``)."""
        return self.data == "pixels"

    def sdk_satisfied(self, sdk_version: str = SDK_VERSION) -> bool:
        """Whether this Vigil's SDK version meets the app's ``sdk`` specifier."""
        return SpecifierSet(self.sdk).contains(sdk_version, prereleases=True)

    def check_sdk(self, sdk_version: str = SDK_VERSION) -> None:
        """ManifestError in one line when this Vigil's SDK does not satisfy the app."""
        if not self.sdk_satisfied(sdk_version):
            raise ManifestError(
                f"app {self.id!r} {self.version} needs app SDK {self.sdk!r}, "
                f"this Vigil provides SDK {sdk_version}"
            )

    def check_settings(self, settings: Mapping[str, Any], scene: Scene | None = None) -> None:
        """ValueError naming the key path (``settings.max_wait: -1 is less than...``) when
        `settings` do not match the app's settings schema; with `scene`, also when a setting
        the schema marks as a zone, line or class (`vigil.apps.ZoneName`…) names none of
        the scene's (``settings.zone: unknown zone 'lobby' (known: door)``)."""
        cls = validator_for(self.settings_schema)
        if scene is not None:
            cls = extend(cls, {REFERENCE_KEY: _reference_keyword(scene)})  # type: ignore[no-untyped-call]
        error = best_match(cls(self.settings_schema).iter_errors(dict(settings)))
        if error is not None:
            where = format_key_path(("settings", *error.absolute_path))
            raise ValueError(f"{where}: {error.message}")

    def canonical_json(self) -> bytes:
        """Deterministic bytes of the manifest (sorted keys, no spaces): what signatures cover."""
        return canonical_json(self.model_dump(mode="json"))


def canonical_json(value: Any) -> bytes:
    """`value` as deterministic JSON bytes (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_manifest(data: Any, where: str) -> AppManifest:
    """Validate manifest data; ManifestError naming `where` and the first bad key otherwise."""
    try:
        return AppManifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = format_key_path(err["loc"]) or "(root)"
        raise ManifestError(f"{where}: manifest key {key!r}: {err['msg']}") from None


def load_manifest(path: Path) -> AppManifest:
    """Read and validate a manifest JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable manifest: {exc}") from None
    return parse_manifest(data, str(path))


def _summary(cls: type[App]) -> str:
    """First line of the class docstring, else of its module's (built-ins document there),
    without the module's leading "``kind``: " label."""
    doc = cls.__doc__ or getattr(sys.modules.get(cls.__module__), "__doc__", None) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    first = first.removeprefix(f"``{cls.kind}``: ")
    return first[:1].upper() + first[1:]


def manifest_for_class(
    cls: type[App],
    *,
    vendor: str = "Vigil",
    version: str | None = None,
    name: str | None = None,
    description: str | None = None,
    network: bool = False,
) -> AppManifest:
    """A manifest generated from an `App` class (how built-ins get theirs, and how
    ``vigil apps new`` seeds a new app's ``vigil-app.json``)."""
    from vigil import __version__

    if description is None:
        description = _summary(cls)
    # The SDK version the class was written against: a minor version may add what it uses.
    sdk = Version(str(cls.sdk_version))
    return AppManifest(
        id=cls.kind,
        name=name or cls.kind.replace("_", " ").capitalize(),
        version=version or __version__,
        vendor=vendor,
        description=description,
        sdk=f">={sdk.major}.{sdk.minor},<{sdk.major + 1}",
        data="pixels" if cls.needs_pixels else "tracks",
        network=network,
        settings_schema=cls.Settings.model_json_schema(),
        events=list(cls.emits),
        entry_point=f"{cls.__module__}:{cls.__qualname__}",
    )
