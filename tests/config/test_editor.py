"""`SiteEditor`: the site YAML edited in place — comments kept, edits checked exactly as
`vigil serve` checks the file, one-line errors, atomic writes, concurrent edits refused."""

from __future__ import annotations

import fcntl
import os
import stat
import textwrap
from pathlib import Path

import pytest

from vigil.config import editor as site_editor_module
from vigil.config.editor import EditConflict, SiteEditor, UnknownApp, UnknownCamera
from vigil.config.loader import load_config
from vigil.config.site import SiteConfig
from vigil.errors import ConfigError
from vigil.service.site_plan import validate_site_text

SITE = textwrap.dedent(
    """\
    # The site of the tests: two cameras.
    cameras:
      - id: gate   # the front gate
        url: ${GATE_URL:-rtsp://127.0.0.1:8554/gate}
        zones:
          # where people wait
          door: {points: [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}
        apps:
          - type: intrusion   # alarms at night
            name: night
            settings: {zone: door}
      - id: yard
        url: 'rtsp://127.0.0.1:8554/yard'
    storage: {directory: data}   # relative to where vigil serve runs
    """
)


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    path.chmod(0o640)
    return path


def test_camera_scene_is_the_file_as_written(site_file: Path) -> None:
    scene, revision = SiteEditor(site_file, validate_site_text).camera_scene("gate")
    assert scene == {
        "zones": {"door": {"points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}},
        "lines": {},
        "apps": [{"type": "intrusion", "name": "night", "settings": {"zone": "door"}}],
        "static_masks": [],
    }
    assert len(revision) == 16
    assert SiteEditor(site_file, validate_site_text).camera_scene("yard")[0] == {
        "zones": {},
        "lines": {},
        "apps": [],
        "static_masks": [],
    }


def test_static_privacy_masks_round_trip(tmp_path: Path) -> None:
    """Static masks are written to the camera's ``privacy.static``, its other privacy keys
    and comments kept; None leaves them; an empty list removes them (and an emptied
    section)."""
    path = tmp_path / "site.yaml"
    path.write_text(
        textwrap.dedent(
            """            cameras:
              - id: gate
                url: rtsp://127.0.0.1:8554/gate
                privacy:
                  mask: [person]   # people, for viewers
                  for: [viewer]
              - id: yard
                url: rtsp://127.0.0.1:8554/yard
            storage: {directory: data}
            """
        )
    )
    editor = SiteEditor(path, validate_site_text)
    window = {"points": [[0.7, 0.0], [1.0, 0.0], [1.0, 0.3]]}
    garden = {"points": [[10, 200], [90, 200], [90, 280], [10, 280]]}
    for camera in ("gate", "yard"):
        editor.replace_scene(camera, {}, {}, [], static_masks=[window, garden])
    site = load_config(path, model=SiteConfig)
    for camera in ("gate", "yard"):
        assert [m.points for m in site.camera(camera).privacy.static] == [
            [(0.7, 0.0), (1.0, 0.0), (1.0, 0.3)],
            [(10, 200), (90, 200), (90, 280), (10, 280)],
        ]
    assert site.camera("gate").privacy.roles == ["viewer"]
    assert "mask: [person]   # people, for viewers" in path.read_text()
    assert editor.camera_scene("yard")[0]["static_masks"] == [window, garden]
    # None: the masks stay as they are; [] removes them, and yard's emptied section.
    editor.replace_scene("gate", {}, {}, [])
    assert len(load_config(path, model=SiteConfig).camera("gate").privacy.static) == 2
    for camera in ("gate", "yard"):
        editor.replace_scene(camera, {}, {}, [], static_masks=[])
    text = path.read_text()
    assert "static" not in text and text.count("privacy:") == 1
    assert load_config(path, model=SiteConfig).camera("gate").privacy.mask == ["person"]


def test_set_app_keeps_comments_placeholders_and_the_rest(site_file: Path) -> None:
    site = SiteEditor(site_file, validate_site_text).set_app(
        "gate", "count", "occupancy", {"zone": "door"}
    )
    text = site_file.read_text()
    # Everything that was there is still there, byte for byte.
    for line in SITE.splitlines():
        assert line in text
    assert "${GATE_URL:-rtsp://127.0.0.1:8554/gate}" in text  # not expanded on write
    assert "      - type: occupancy\n        name: count\n        settings: {zone: door}\n" in text
    # What was written is what `vigil serve` loads.
    loaded = load_config(site_file, model=SiteConfig)
    assert [(a.type, a.name, a.enabled) for a in loaded.camera("gate").apps] == [
        ("intrusion", "night", True),
        ("occupancy", "count", True),
    ]
    assert site.camera("gate").apps == loaded.camera("gate").apps


def test_disable_then_enable_an_app(site_file: Path) -> None:
    editor = SiteEditor(site_file, validate_site_text)
    editor.set_app("gate", "night", "intrusion", {"zone": "door"}, enabled=False)
    assert "enabled: false" in site_file.read_text()
    assert load_config(site_file, model=SiteConfig).camera("gate").apps[0].enabled is False
    editor.set_app("gate", "night", "intrusion", {"zone": "door"}, enabled=True)
    assert site_file.read_text() == SITE  # `enabled: true` is the default: not written


def test_replace_scene_changes_only_what_changed(site_file: Path) -> None:
    editor = SiteEditor(site_file, validate_site_text)
    scene, revision = editor.camera_scene("gate")
    scene["zones"]["street"] = {"points": [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]}
    lines = {"entrance": {"start": [0.5, 0], "end": [0.5, 1]}}
    apps = [
        *scene["apps"],
        {"type": "line_crossing", "name": "in_out", "settings": {"line": "entrance"}},
    ]
    editor.replace_scene("gate", scene["zones"], lines, apps, revision=revision)
    text = site_file.read_text()
    assert "      # where people wait\n      door: {points: [[0.1, 0.1]" in text
    assert "      street: {points: [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]}\n" in text
    # A new section goes before the apps that use it.
    assert text.index("    lines:\n      entrance: {start: [0.5, 0], end: [0.5, 1]}") < text.index(
        "    apps:"
    )
    assert "      - type: intrusion   # alarms at night\n" in text
    camera = load_config(site_file, model=SiteConfig).camera("gate")
    assert sorted(camera.zones) == ["door", "street"]
    assert [a.name for a in camera.apps] == ["night", "in_out"]

    # Emptying the sections removes them (and nothing else).
    editor.replace_scene("gate", {}, {}, [])
    camera_text = site_file.read_text().split("  - id: yard")[0]
    assert "zones:" not in camera_text and "apps:" not in camera_text
    assert "# the front gate" in camera_text


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda e: e.replace_scene("gate", {"door": {"points": [[0, 0], [1, 1]]}}, {}, []),
            "site.yaml: cameras[0].zones.door.points: polygon needs at least 3 points, got 2",
        ),
        (
            lambda e: e.set_app("gate", "count", "occupancy", {"zone": "gate"}),
            "site.yaml: cameras[0].apps[1]: unknown zone 'gate' (known: door)",
        ),
        (
            lambda e: e.set_app("gate", "count", "occupancy", {"threshhold": 2}),
            "site.yaml: cameras[0].apps[1].settings.threshhold: unknown key "
            "(did you mean 'threshold'?)",
        ),
        (
            lambda e: e.set_app("yard", "x", "no_such_app", {}),
            "site.yaml: cameras[1].apps[0]: unknown app kind 'no_such_app'",
        ),
        (
            # A zone an app uses cannot go away from under it.
            lambda e: e.replace_scene(
                "gate",
                {},
                {},
                [{"type": "intrusion", "name": "night", "settings": {"zone": "door"}}],
            ),
            "site.yaml: cameras[0].apps[0]: unknown zone 'door'",
        ),
    ],
)
def test_invalid_edits_are_refused_in_one_line_and_nothing_is_written(
    site_file: Path, edit, message: str
) -> None:
    before = site_file.read_bytes()
    with pytest.raises(ConfigError) as caught:
        edit(SiteEditor(site_file, validate_site_text))
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(message.replace("site.yaml", str(site_file), 1)), text
    assert site_file.read_bytes() == before
    assert not [p for p in site_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_unknown_camera_and_app(site_file: Path) -> None:
    editor = SiteEditor(site_file, validate_site_text)
    with pytest.raises(UnknownCamera, match=r"unknown camera 'back' \(known: gate, yard\)"):
        editor.camera_scene("back")
    with pytest.raises(UnknownApp, match="camera 'gate' has no app named 'count'"):
        editor.remove_app("gate", "count")
    editor.remove_app("gate", "night")
    assert [a.name for a in load_config(site_file, model=SiteConfig).camera("gate").apps] == []


def test_write_is_atomic_and_keeps_the_file_mode(site_file: Path) -> None:
    inode = site_file.stat().st_ino
    with open(site_file) as reader:  # a reader of the old file keeps reading the old file
        SiteEditor(site_file, validate_site_text).set_app("yard", "count", "occupancy", {})
        assert reader.read() == SITE
    assert site_file.stat().st_ino != inode  # replaced, not rewritten in place
    assert stat.S_IMODE(site_file.stat().st_mode) == 0o640
    assert "name: count" in site_file.read_text()


def test_a_failed_write_leaves_the_file_whole(
    site_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(site_editor_module.os, "replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        SiteEditor(site_file, validate_site_text).set_app("yard", "count", "occupancy", {})
    assert site_file.read_text() == SITE
    assert [
        p.name for p in site_file.parent.iterdir() if not p.name.startswith(".site.yaml.lock")
    ] == ["site.yaml"]


def test_symlinked_site_file_stays_a_symlink(tmp_path: Path, site_file: Path) -> None:
    link = tmp_path / "link.yaml"
    link.symlink_to(site_file)
    SiteEditor(link, validate_site_text).set_app("yard", "count", "occupancy", {})
    assert link.is_symlink()
    assert "name: count" in site_file.read_text()


def test_concurrent_edit_is_refused(site_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site_editor_module, "LOCK_WAIT_S", 0.2)
    lock = os.open(site_file.with_name(".site.yaml.lock"), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another editor (a CLI in another process) holds it
        with pytest.raises(EditConflict, match="being edited by someone else"):
            SiteEditor(site_file, validate_site_text).set_app("yard", "count", "occupancy", {})
    finally:
        os.close(lock)
    assert site_file.read_text() == SITE
    SiteEditor(site_file, validate_site_text).set_app(
        "yard", "count", "occupancy", {}
    )  # free again


def test_stale_revision_is_refused(site_file: Path) -> None:
    editor = SiteEditor(site_file, validate_site_text)
    scene, revision = editor.camera_scene("gate")
    editor.set_app("yard", "count", "occupancy", {})  # someone else's edit in between
    with pytest.raises(EditConflict, match="changed since it was read"):
        editor.replace_scene("gate", {}, {}, [], revision=revision)
    assert "door:" in site_file.read_text()


def test_broken_yaml_is_one_line(site_file: Path) -> None:
    site_file.write_text("cameras:\n  - id: gate\n   url: x\n")
    with pytest.raises(ConfigError) as caught:
        SiteEditor(site_file, validate_site_text).camera_scene("gate")
    assert "\n" not in str(caught.value) and "line 3" in str(caught.value)


def test_the_file_keeps_its_own_indentation(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        cameras:
        - id: gate    # dashes at the column of their parent key
          url: rtsp://127.0.0.1/gate
          apps:
          - {type: occupancy, name: count}
        storage:
          directory: data
        """
    )
    path = tmp_path / "site.yaml"
    path.write_text(text)
    SiteEditor(path, validate_site_text).set_app(
        "gate", "guard", "occupancy", {"report_interval": 3}
    )
    assert path.read_text() == text.replace(
        "  - {type: occupancy, name: count}\n",
        "  - {type: occupancy, name: count}\n"
        "  - type: occupancy\n    name: guard\n    settings: {report_interval: 3}\n",
    )
