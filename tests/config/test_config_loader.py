"""`vigil.config`: YAML loading, defaults, and one-line errors naming file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import vigil.config.schema as schema
from vigil.config import (
    VigilConfig,
    app_settings_error,
    format_validation_error,
    load_config,
    load_config_text,
)
from vigil.errors import ConfigError

_REAL_COCO_NAMES = schema._coco_names
COCO_SUBSET = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "dog")


@pytest.fixture(autouse=True)
def coco_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the class list so these tests do not depend on vigil.detection.classes."""
    monkeypatch.setattr(schema, "_coco_names", lambda: COCO_SUBSET)


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}: "), message
    return message


# --------------------------------------------------------------------------- defaults


def test_no_file_gives_defaults() -> None:
    config = load_config(None)
    assert config == VigilConfig()
    assert config.source.url is None
    assert config.source.id == "cam1"
    assert config.source.detect_fps is None
    assert config.detector.model == "yolox-nano"
    assert config.detector.input_size == (320, 320)
    assert config.detector.classes == ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
    assert config.detector.confidence == 0.1
    assert config.detector.nms_iou == 0.65
    assert config.detector.decoder == "auto"
    assert config.motion.scale_height == 120
    assert config.motion.full_frame_every == 10
    assert config.tracker.min_hits == 2
    assert config.zones == {} and config.lines == {} and config.apps == []
    assert config.output.database is None and config.output.video is True
    assert config.file is None


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_empty_file_is_defaults(tmp_path: Path, text: str) -> None:
    config = load_config(write(tmp_path, text))
    assert config.model_dump() == VigilConfig().model_dump()


def test_null_section_is_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "zones:\n  # door: ...\ndetector:\n"))
    assert config.zones == {}
    assert config.detector == VigilConfig().detector


def test_full_config(tmp_path: Path) -> None:
    text = """
source:
  url: rtsp://cam.local/stream
  id: gate
  detect_fps: 5
  loop: true
detector:
  model: models/yolox_s.onnx
  input_size: [640, 384]
  classes: [person, 2]
  confidence: 0.25
  decoder: yolox
motion: {enabled: false}
zones:
  door:
    points: [[0.1, 0.1], [0.5, 0.1], [0.5, 0.9], [0.1, 0.9]]
  yard:
    points: [[0, 0], [640, 0], [640, 480]]
lines:
  gate: {start: [0.5, 0], end: [0.5, 1]}
apps:
  - type: loitering
    name: door-loiter
    settings: {zone: door, min_seconds: 10}
  - type: line_count
output:
  directory: out
  video: false
  mot: out/tracks.txt
  database: events.db
"""
    config = load_config(write(tmp_path, text))
    assert config.file == str(tmp_path / "site.yaml")
    assert config.source.detect_fps == 5.0 and config.source.loop is True
    assert config.detector.input_size == (640, 384)
    assert config.detector.classes == ["person", 2]
    door = config.zones["door"].to_zone("door")
    assert door.normalized
    assert door.to_pixels(1000, 500).points[1] == pytest.approx((500.0, 50.0))
    yard = config.zones["yard"].to_zone("yard")
    assert not yard.normalized
    assert yard.to_pixels(1000, 500).points[1] == (640.0, 0.0)
    gate = config.lines["gate"].to_line("gate").to_pixels(640, 480)
    assert (gate.start, gate.end) == ((320.0, 0.0), (320.0, 480.0))
    assert config.apps[0].settings == {"zone": "door", "min_seconds": 10}
    assert config.apps[1].name is None and config.apps[1].settings == {}
    assert config.output.directory == Path("out") and config.output.video is False
    assert config.output.mot == Path("out/tracks.txt") and config.output.database == "events.db"


def test_numeric_zone_name_becomes_string(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "zones:\n  1: {points: [[0, 0], [1, 0], [1, 1]]}\n"))
    assert list(config.zones) == ["1"]


def test_boolean_zone_name_rejected(tmp_path: Path) -> None:
    message = error_for(tmp_path, "lines:\n  off: {start: [0, 0], end: [1, 1]}\n")
    assert message.endswith(
        "lines: a name was read as the YAML boolean false (from yes/no/on/off/true/false); quote it, e.g. 'no':"
    )


def test_accepts_str_path(tmp_path: Path) -> None:
    assert load_config(str(write(tmp_path, "source: {id: a}\n"))).source.id == "a"


# --------------------------------------------------------------------------- file / YAML


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found$"):
        load_config(path)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes(b"source:\n  id: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_malformed_yaml_names_line_and_column(tmp_path: Path) -> None:
    message = error_for(tmp_path, "detector:\n  model: x\n  confidence: 0.5: 3\n")
    assert (
        message
        == f"{tmp_path / 'site.yaml'}: line 3, column 18: mapping values are not allowed here"
    )


def test_bad_indentation(tmp_path: Path) -> None:
    message = error_for(tmp_path, "source:\n  id: a\n bad: 1\n")
    assert ": line 3, column 2: " in message


def test_duplicate_key_rejected(tmp_path: Path) -> None:
    message = error_for(tmp_path, "source: {id: a}\ndetector: {}\nsource: {id: b}\n")
    assert message.endswith("line 3, column 1: duplicate key 'source'")


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    text = "zones:\n  a: &z {points: [[0, 0], [1, 0], [1, 1]]}\n  b:\n    <<: *z\n"
    config = load_config(write(tmp_path, text))
    assert config.zones["b"].points == config.zones["a"].points


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "a list"), ("just text\n", "a string")])
def test_top_level_must_be_mapping(tmp_path: Path, text: str, kind: str) -> None:
    message = error_for(tmp_path, text)
    assert "top level must be a mapping" in message and message.endswith(f"got {kind}")


# --------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("detectr: {}\n", "detectr"),
        ("source: {url: a.mp4, fps: 5}\n", "source.fps"),
        ("detector:\n  confidnce: 0.5\n", "detector.confidnce"),
        ("motion: {enable: true}\n", "motion.enable"),
        ("tracker: {lost_buffer: 3}\n", "tracker.lost_buffer"),
        (
            "zones:\n  door:\n    points: [[0, 0], [1, 0], [1, 1]]\n    colour: red\n",
            "zones.door.colour",
        ),
        ("lines:\n  l: {start: [0, 0], end: [1, 1], width: 2}\n", "lines.l.width"),
        ("apps:\n  - {type: count}\n  - {type: count, setings: {}}\n", "apps[1].setings"),
        ("output: {db: x.db}\n", "output.db"),
        ("detectr:\n", "detectr"),  # an unknown key with a null value is still unknown
    ],
)
def test_unknown_key_rejected_at_every_level(tmp_path: Path, text: str, path: str) -> None:
    message = error_for(tmp_path, text)
    assert f": {path}: unknown key" in message


def test_unknown_key_suggests_the_intended_one(tmp_path: Path) -> None:
    message = error_for(tmp_path, "detector:\n  confidnce: 0.5\n")
    assert (
        message
        == f"{tmp_path / 'site.yaml'}: detector.confidnce: unknown key (did you mean 'confidence'?)"
    )


def test_unknown_key_lists_allowed_keys(tmp_path: Path) -> None:
    message = error_for(tmp_path, "source: {zzz: 1}\n")
    assert message.endswith(
        "source.zzz: unknown key (expected one of: url, id, detect_fps, loop, hwaccel)"
    )


# --------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("detector: {confidence: 1.5}\n", "detector.confidence: must be < 1, got 1.5"),
        ("detector: {confidence: 0}\n", "detector.confidence: must be > 0, got 0"),
        ("detector: {threads: 0}\n", "detector.threads: must be >= 1, got 0"),
        ("detector: {threads: two}\n", "detector.threads: must be an integer, got 'two'"),
        ("detector: {threads: 1.5}\n", "detector.threads: must be an integer, got 1.5"),
        (
            "detector: {decoder: yolo5}\n",
            "detector.decoder: must be one of 'auto', 'yolox' or 'yolov8', got 'yolo5'",
        ),
        (
            "detector: {input_size: [416]}\n",
            "detector.input_size: must be [width, height], positive multiples of 32, got [416]",
        ),
        (
            "detector: {input_size: [416, 400]}\n",
            "detector.input_size: must be [width, height], positive multiples of 32, got [416, 400]",
        ),
        (
            "detector: {classes: [persn]}\n",
            "detector.classes: unknown COCO class 'persn' (did you mean 'person'?)",
        ),
        ("detector: {classes: [person, 99]}\n", "detector.classes: class id must be 0..8, got 99"),
        ("detector: {classes: []}\n", "detector.classes: must not be empty"),
        ("source: {detect_fps: -1}\n", "source.detect_fps: must be > 0, got -1"),
        ("source: {loop: maybe}\n", "source.loop: must be true or false, got 'maybe'"),
        ("source: {id: ''}\n", "source.id: must not be empty, got ''"),
        ("motion: {threshold: 300}\n", "motion.threshold: must be <= 255, got 300"),
        ("motion: {min_area: -0.1}\n", "motion.min_area: must be >= 0, got -0.1"),
        ("tracker: {match_iou: 2}\n", "tracker.match_iou: must be < 1, got 2"),
        (
            "tracker: {low_threshold: 0.7}\n",
            "tracker: low_threshold must be <= high_threshold (0.5), got 0.7",
        ),
        ("zones: [a, b]\n", "zones: must be a mapping, got ['a', 'b']"),
        ("apps: {type: count}\n", "apps: must be a list, got {'type': 'count'}"),
        ("apps:\n  - {name: x}\n", "apps[0].type: required key is missing"),
        (
            "apps:\n  - {type: a, name: x}\n  - {type: b, name: x}\n",
            "apps[1].name: duplicate app name 'x' (also apps[0])",
        ),
        ("source: 5\n", "source: must be a mapping, got 5"),
        ("apps:\n  - {type: x, settings: 5}\n", "apps[0].settings: must be a mapping, got 5"),
    ],
)
def test_bad_value_is_one_line_with_path_and_value(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = error_for(tmp_path, text)
    assert expected in message
    assert message.startswith(f"{tmp_path / 'site.yaml'}: {expected.split(':')[0]}:")


def test_several_errors_stay_on_one_line(tmp_path: Path) -> None:
    message = error_for(
        tmp_path, "detector: {confidence: 1.5, threads: 0}\nmotion: {enabled: maybe}\n"
    )
    assert message.endswith(
        "detector.confidence: must be < 1, got 1.5 (and 2 more: detector.threads, motion.enabled)"
    )


# --------------------------------------------------------------------------- geometry


def test_polygon_needs_three_points(tmp_path: Path) -> None:
    message = error_for(tmp_path, "zones:\n  door:\n    points: [[0, 0], [1, 1]]\n")
    assert (
        message
        == f"{tmp_path / 'site.yaml'}: zones.door.points: polygon needs at least 3 points, got 2"
    )


def test_point_must_be_two_numbers(tmp_path: Path) -> None:
    message = error_for(tmp_path, "zones:\n  door:\n    points: [[0, 0], [1, 1, 2], [1, 0]]\n")
    assert message.endswith(
        "zones.door.points[1]: point must be [x, y] with two numbers, got [1, 1, 2]"
    )
    message = error_for(tmp_path, "zones:\n  door:\n    points: [[0, 0], [a, 1], [1, 0]]\n")
    assert message.endswith(
        "zones.door.points[1]: point must be [x, y] with two numbers, got ['a', 1]"
    )


def test_negative_coordinates_rejected(tmp_path: Path) -> None:
    message = error_for(tmp_path, "zones:\n  door:\n    points: [[0, 0], [-5, 10], [10, 0]]\n")
    assert message.endswith("zones.door.points[1]: point coordinates must be >= 0, got [-5, 10]")


def test_self_intersecting_polygon_rejected(tmp_path: Path) -> None:
    message = error_for(tmp_path, "zones:\n  bow:\n    points: [[0, 0], [1, 1], [1, 0], [0, 1]]\n")
    assert "zones.bow.points: polygon is self-intersecting at (0.5, 0.5)" in message


def test_collinear_polygon_rejected(tmp_path: Path) -> None:
    message = error_for(tmp_path, "zones:\n  flat:\n    points: [[0, 0], [5, 5], [10, 10]]\n")
    assert "zones.flat.points: polygon has zero area (points are collinear)" in message


def test_mixed_normalised_and_pixel_rejected(tmp_path: Path) -> None:
    message = error_for(
        tmp_path, "zones:\n  door:\n    points: [[0.1, 0.1], [640, 0.5], [320, 480]]\n"
    )
    assert "zones.door.points: mixes normalised (0..1) and pixel coordinates" in message
    assert "got [[0.1, 0.1], [640, 0.5], [320, 480]]" in message


def test_normalised_zone_ok(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "zones:\n  door:\n    points: [[0, 0], [1, 0], [1, 1], [0, 1]]\n")
    )
    zone = config.zones["door"]
    zone = zone.to_zone("z")
    assert zone.normalized
    assert list(zone.to_pixels(640, 480).points) == [
        (0.0, 0.0),
        (640.0, 0.0),
        (640.0, 480.0),
        (0.0, 480.0),
    ]


def test_zero_length_line_rejected(tmp_path: Path) -> None:
    message = error_for(tmp_path, "lines:\n  gate: {start: [10, 20], end: [10, 20]}\n")
    assert message.endswith("lines.gate.end: line has zero length: start and end are both [10, 20]")


def test_zones_take_no_class_filter_apps_do(tmp_path: Path) -> None:
    text = "zones:\n  door:\n    points: [[0, 0], [1, 0], [1, 1]]\n    classes: [dog]\n"
    assert "zones.door.classes: unknown key" in error_for(tmp_path, text)


def test_classes_unchecked_without_coco_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "_coco_names", lambda: None)
    config = load_config(write(tmp_path, "detector: {classes: [forklift, 120]}\n"))
    assert config.detector.classes == ["forklift", 120]
    assert "class id must be >= 0" in error_for(tmp_path, "detector: {classes: [-1]}\n")


def test_real_coco_list_when_available() -> None:
    names = _REAL_COCO_NAMES()
    if names is None:
        pytest.skip("vigil.detection.classes is not available yet")
    assert len(names) == 80 and names[0] == "person"


# --------------------------------------------------------------------------- ${VAR}


def test_env_placeholder_substituted(tmp_path: Path) -> None:
    text = (
        "source: {url: 'rtsp://admin:${CAM_PASS}@cam/1'}\noutput: {database: '${DB:-events.db}'}\n"
    )
    config = load_config(write(tmp_path, text), env={"CAM_PASS": "s3cret"})
    assert config.source.url == "rtsp://admin:s3cret@cam/1"
    assert config.output.database == "events.db"


def test_env_placeholder_escape(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "source: {id: 'a$${b}'}\n"), env={})
    assert config.source.id == "a${b}"


def test_env_placeholder_unset(tmp_path: Path) -> None:
    message = error_for(tmp_path, "output:\n  database: postgresql://u:${DB_PASS}@h/db\n")
    assert (
        message
        == f"{tmp_path / 'site.yaml'}: output.database: environment variable 'DB_PASS' is not set"
    )


def test_env_placeholder_in_list(tmp_path: Path) -> None:
    message = error_for(tmp_path, "apps:\n  - type: x\n    settings: {tokens: [a, '${TOKEN}']}\n")
    assert message.endswith("apps[0].settings.tokens[1]: environment variable 'TOKEN' is not set")


def test_env_placeholder_malformed(tmp_path: Path) -> None:
    assert "bad placeholder '${1X}'" in error_for(tmp_path, "source: {id: '${1X}'}\n")
    assert "unclosed '${'" in error_for(tmp_path, "source: {id: '${X'}\n")


def test_env_value_not_leaked_in_errors(tmp_path: Path) -> None:
    message = error_for(tmp_path, "source: {detect_fps: '${FPS}'}\n", env={"FPS": "hunter2"})
    assert message.endswith("source.detect_fps: must be a number, got '${FPS}'")
    assert "hunter2" not in message


def test_env_from_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_TEST_CAM", "cam9")
    assert load_config(write(tmp_path, "source: {id: '${VIGIL_TEST_CAM}'}\n")).source.id == "cam9"


# --------------------------------------------------------------------------- app settings


class LoiterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zone: str
    min_seconds: float = Field(gt=0)


def validate(model, config, index):
    """Validate app `index`'s settings as the app registry does, reporting like it."""
    try:
        return model.model_validate(config.apps[index].settings)
    except ValidationError as err:
        raise app_settings_error(
            err, index, config.file, model=model, originals=config._originals
        ) from err


def test_app_settings_error_scope_names_the_camera() -> None:
    config = load_config_text("apps:\n  - type: l\n    settings: {zone: d, min_seconds: 0}\n")
    try:
        LoiterSettings.model_validate(config.apps[0].settings)
    except ValidationError as err:
        message = str(app_settings_error(err, 0, "site.yaml", scope=("cameras", 2)))
    assert message == "site.yaml: cameras[2].apps[0].settings.min_seconds: must be > 0, got 0"


def test_app_settings_error_has_full_key_path(tmp_path: Path) -> None:
    text = (
        "apps:\n  - type: count\n  - type: loitering\n    settings: {zone: door, min_seconds: -1}\n"
    )
    path = write(tmp_path, text)
    config = load_config(path)
    with pytest.raises(ConfigError) as info:
        validate(LoiterSettings, config, 1)
    assert str(info.value) == f"{path}: apps[1].settings.min_seconds: must be > 0, got -1"


def test_app_settings_unknown_key_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "apps:\n  - type: loitering\n    settings: {zone: door, min_secs: 3}\n")
    with pytest.raises(ConfigError) as info:
        validate(LoiterSettings, load_config(path), 0)
    message = str(info.value)
    assert message.startswith(
        f"{path}: apps[0].settings.min_secs: unknown key (did you mean 'min_seconds'?)"
    )
    assert "apps[0].settings.min_seconds" in message  # the missing required key is listed too


def test_app_settings_ok() -> None:
    config = load_config_text("apps:\n  - type: l\n    settings: {zone: d, min_seconds: 2}\n")
    settings = validate(LoiterSettings, config, 0)
    assert settings.min_seconds == 2.0


def test_format_validation_error_with_prefix_and_no_file() -> None:
    with pytest.raises(Exception) as info:
        LoiterSettings.model_validate({"zone": 3, "min_seconds": 1})
    line = format_validation_error(
        info.value, None, prefix=("apps", 2, "settings"), model=LoiterSettings
    )
    assert line == "apps[2].settings.zone: must be a string, got 3"


def test_load_config_text_without_file_name() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text("detector: {confidence: 2}\n")
    assert str(info.value) == "detector.confidence: must be < 1, got 2"


# --------------------------------------------------------------------------- hostile files


def _alias_bomb(levels: int = 9) -> str:
    """Billion laughs: each level is 9 aliases of the one before (9**levels strings)."""
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    previous = "a"
    for name in "bcdefghijk"[: levels - 1]:
        text += f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
        previous = name
    return text


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    import time

    started = time.monotonic()
    message = error_for(tmp_path, _alias_bomb())
    assert time.monotonic() - started < 2
    assert message.endswith("aliases (*name) expand to more than 10000 extra values; "
                            "write the values out instead")  # fmt: skip


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    assert "aliases (*name) expand" in error_for(tmp_path, "zones: &z {a: *z}\n")


def test_anchors_within_the_budget_still_work(tmp_path: Path) -> None:
    zone = "{points: [[0, 0], [1, 0], [1, 1]]}"
    names = "\n".join(f"  z{i}: *z" for i in range(100))
    config = load_config(write(tmp_path, f"zones:\n  a: &z {zone}\n{names}\n"))
    assert len(config.zones) == 101


@pytest.mark.parametrize(
    "text", ["[" * 5000 + "]" * 5000, "a: " + "{b: " * 3000 + "1" + "}" * 3000]
)
def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    assert "nested deeper than 64 levels" in error_for(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('zones:\n  "\\ud800": {points: [[0, 0], [1, 0], [1, 1]]}\n', "zones"),
        ('lines:\n  "door\\a": {start: [0, 0], end: [1, 1]}\n', "lines"),
        ('apps:\n  - {type: occupancy, name: "tab\\there"}\n', "apps[0].name"),
        ('source: {id: "cam\\u2028"}\n', "source.id"),
        (f"zones:\n  {'z' * 65}: {{points: [[0, 0], [1, 0], [1, 1]]}}\n", "zones"),
        ('zones:\n  "  ": {points: [[0, 0], [1, 0], [1, 1]]}\n', "zones"),
    ],
)
def test_names_must_be_printable_and_bounded(tmp_path: Path, text: str, where: str) -> None:
    message = error_for(tmp_path, text)
    assert f": {where}" in message and ("must" in message), message
    message.encode("utf-8")  # the message itself is printable


def test_names_in_other_scripts_are_fine(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "zones:\n  Entrée Nord: {points: [[0, 0], [1, 0], [1, 1]]}\n")
    )
    assert list(config.zones) == ["Entrée Nord"]


def test_a_mapping_key_of_another_type_is_named_in_one_line():
    """Found by the site-file fuzzer: YAML reads ``0.62:`` as a float key, which the key
    path must show rather than crash on."""
    from vigil.config.site import SiteConfig

    with pytest.raises(ConfigError) as err:
        load_config_text("cameras:\n  0.62: dou:${Pcam", "site.yaml", env={}, model=SiteConfig)
    message = str(err.value)
    assert message.startswith("site.yaml: ") and "\n" not in message, message
