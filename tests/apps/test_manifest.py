"""App manifests: validation, the manifests generated for built-in apps, settings checked
against a manifest's JSON Schema, SDK requirements, canonical JSON."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_registry import MINIMAL

from vigil.apps import SDK_VERSION
from vigil.apps.manifest import (
    AppManifest,
    ManifestError,
    canonical_json,
    load_manifest,
    manifest_for_class,
    parse_manifest,
)
from vigil.apps.registry import BUILTIN_APPS, build_app

EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / "examples/apps/queue_length/src/queue_length/vigil-app.json"
)

VALID = {
    "id": "queue_length",
    "name": "Queue length",
    "version": "1.0.0",
    "vendor": "Example",
    "sdk": ">=1.0,<2",
    "entry_point": "queue_length.app:QueueLength",
}


@pytest.mark.parametrize("kind", sorted(BUILTIN_APPS))
def test_builtin_manifests_are_generated_from_the_class(kind):
    cls = BUILTIN_APPS[kind]
    m = manifest_for_class(cls)
    data = "pixels" if cls.needs_pixels else "tracks"
    assert (m.id, m.vendor, m.data, m.network) == (kind, "Vigil", data, False)
    assert m.events == list(cls.emits) and m.events
    assert m.settings_schema == cls.Settings.model_json_schema()
    assert m.entry_point == f"{cls.__module__}:{cls.__name__}"
    assert m.sdk_satisfied() and m.description and m.description[0].isupper()
    m.check_settings(MINIMAL[kind])  # what pydantic accepts, the schema accepts


# A reference each built-in makes (its zone, line or classes) changed to a name the scene lacks.
UNKNOWN_REFERENCES = [
    (kind, {**MINIMAL[kind], key: value})
    for kind, cls in sorted(BUILTIN_APPS.items())
    for key, value in (("zone", "lobby"), ("line", "attic"), ("classes", ["person", "unicorn"]))
    if key in cls.Settings.model_fields
]


@pytest.mark.parametrize(("kind", "settings"), UNKNOWN_REFERENCES)
def test_the_schema_marks_every_builtin_reference_as_building_the_app_checks_it(
    kind, settings, scene
):
    """A store app's references are checked through its schema (it is never built here):
    for the built-ins, checked both ways, the schema check refuses what building refuses."""
    manifest = manifest_for_class(BUILTIN_APPS[kind])
    manifest.check_settings(MINIMAL[kind], scene)
    with pytest.raises(ValueError) as built:
        build_app(kind, "x", settings, scene)
    with pytest.raises(ValueError) as checked:
        manifest.check_settings(settings, scene)
    assert str(checked.value).endswith(f": {built.value}"), (checked.value, built.value)


def test_reference_marks_name_a_known_kind():
    schema = {"properties": {"z": {"type": "string", "x-vigil-ref": "zones"}}}
    with pytest.raises(ManifestError) as err:
        parse_manifest({**VALID, "settings_schema": schema}, "vigil-app.json")
    assert "x-vigil-ref 'zones': expected one of zone, line, class" in str(err.value)


def test_settings_are_checked_against_the_schema_with_the_key_path():
    m = manifest_for_class(BUILTIN_APPS["loitering"])
    with pytest.raises(ValueError, match=r"^settings\.min_seconds: -1 is less than"):
        m.check_settings({"zone": "a", "min_seconds": -1})
    with pytest.raises(ValueError, match=r"^settings\.classes\[1\]: 1\.5 is not valid"):
        m.check_settings({"zone": "a", "classes": ["person", 1.5]})
    with pytest.raises(
        ValueError, match=r"^settings: Additional properties .*'min_secs' was unexpected"
    ):
        m.check_settings({"zone": "a", "min_secs": 3})
    with pytest.raises(ValueError, match=r"^settings: 'zone' is a required property"):
        m.check_settings({})


def test_the_example_apps_manifest_is_valid():
    m = load_manifest(EXAMPLE)
    assert (m.id, m.data, m.events) == ("queue_length", "tracks", ["queue_length", "long_wait"])
    m.check_settings({"zone": "queue", "max_wait": 30})
    with pytest.raises(ValueError, match=r"^settings\.report_interval: 0 is less than or equal"):
        m.check_settings({"zone": "queue", "report_interval": 0})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "Queue-Length"}, "manifest key 'id': String should match pattern"),
        ({"version": "one"}, "manifest key 'version': Value error, not a version: 'one'"),
        ({"sdk": "1.0"}, "manifest key 'sdk': Value error, not a version specifier: '1.0'"),
        ({"data": "faces"}, "manifest key 'data': Input should be 'tracks' or 'pixels'"),
        ({"entry_point": "queue_length.app"}, "manifest key 'entry_point'"),
        (
            {"settings_schema": {"type": "nonsense"}},
            "not a valid JSON Schema: 'nonsense' is not valid",
        ),
        ({"colour": "red"}, "manifest key 'colour': Extra inputs are not permitted"),
    ],
)
def test_bad_manifests_are_one_line_errors_naming_the_key(change, message):
    with pytest.raises(ManifestError) as err:
        parse_manifest({**VALID, **change}, "vigil-app.json")
    assert str(err.value).startswith("vigil-app.json: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_manifest_files(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(tmp_path / "vigil-app.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ManifestError, match=r"bad.json: unreadable manifest"):
        load_manifest(tmp_path / "bad.json")


def test_sdk_requirement():
    m = parse_manifest(VALID, "x")
    m.check_sdk()
    assert m.data == "tracks" and not m.needs_pixels and not m.network
    future = parse_manifest({**VALID, "sdk": ">=2"}, "x")
    assert not future.sdk_satisfied() and future.sdk_satisfied("2.0.0")
    with pytest.raises(
        ManifestError, match=rf"needs app SDK '>=2', this Vigil provides SDK {SDK_VERSION}"
    ):
        future.check_sdk()


def test_canonical_json_is_deterministic():
    m = parse_manifest(VALID, "x")
    reordered = AppManifest.model_validate(dict(reversed(list(m.model_dump().items()))))
    assert m.canonical_json() == reordered.canonical_json()
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'.encode()
