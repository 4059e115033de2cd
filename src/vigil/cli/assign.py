"""``vigil apps enable`` / ``vigil apps disable``: run an app on a camera, or stop it.

Both edit the site file with `SiteEditor` (comments kept, checked exactly as `vigil serve`
checks it, written atomically); a `vigil serve` running on that file applies the change
within seconds, without a restart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from vigil.cli.options import config_option
from vigil.errors import ConfigError, VigilError

CONFIG_OPTION = config_option("The site YAML of `vigil serve`.", required=True)
CAMERA_OPTION = click.option(
    "--camera", "camera_id", required=True, help="Camera id in the site file."
)


def parse_assignments(assignments: tuple[str, ...]) -> dict[str, Any]:
    """``("zone=door", "threshold=3", "a.b=[x, y]")`` -> settings; values read as YAML
    (``3`` a number, ``true`` a boolean, ``[person, car]`` a list), dotted keys nest."""
    settings: dict[str, Any] = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as err:  # a ReaderError (control character) has no `problem`
            from vigil.config.loader import format_validation_error

            problem = format_validation_error(err, None)
            raise ConfigError(f"--set {item!r}: value is not valid YAML ({problem})") from None
        *parents, leaf = key.strip().split(".")
        target = settings
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is already set to a value")
        target[leaf] = value
    return settings


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _settings_json(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"--settings-json: not valid JSON ({err.msg} at {err.pos})") from None
    if not isinstance(value, dict):
        raise ConfigError("--settings-json: must be a JSON object of settings")
    return value


def _instance(scene: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The scene's app instance `name` (an unnamed one is named after its type), or None."""
    return next((a for a in scene["apps"] if (a.get("name") or a["type"]) == name), None)


def _where(config_path: Path, err: VigilError) -> VigilError:
    """Name the file in errors that do not already."""
    text = str(err)
    return err if text.startswith(f"{config_path}:") else VigilError(f"{config_path}: {text}")


@click.command()
@click.argument("app_id")
@CAMERA_OPTION
@click.option("--name", help="Instance name, as events name their app [APP_ID].")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting; VALUE is read as YAML (3, true, [person, car]); KEY may be dotted. "
    "Repeatable; applied over --settings-json or the instance's current settings.",
)
@click.option("--settings-json", help="All settings as one JSON object.")
@CONFIG_OPTION
def enable(
    app_id: str,
    camera_id: str,
    name: str | None,
    assignments: tuple[str, ...],
    settings_json: str | None,
    config_path: Path,
) -> None:
    """Run app APP_ID on a camera: add the instance, or update and enable it.

    \b
    vigil apps enable occupancy --camera gate --set zone=door --set threshold=3 -c site.yaml
    """
    from vigil.config.editor import SiteEditor, UnknownCamera
    from vigil.service.supervisor import validate_site_text

    editor = SiteEditor(config_path, validate_site_text)
    name = name or app_id
    try:
        scene, revision = editor.camera_scene(camera_id)
        current = _instance(scene, name)
        if current is not None and current["type"] != app_id:
            raise ConfigError(
                f"camera {camera_id!r} already has an app named {name!r} of type "
                f"{current['type']!r}: choose another --name"
            )
        base = _settings_json(settings_json)
        if base is None:
            base = dict(current.get("settings") or {}) if current is not None else {}
        settings = _merge(base, parse_assignments(assignments))
        editor.set_app(camera_id, name, app_id, settings, True, revision=revision)
    except (UnknownCamera, ConfigError) as err:
        raise _where(config_path, err) from None
    verb = "updated" if current is not None else "added"
    click.echo(
        f"{verb} and enabled app {name!r} ({app_id}) on camera {camera_id!r} in {config_path}"
    )
    click.echo("a running `vigil serve` on this file applies it within seconds")


@click.command()
@click.argument("name")
@CAMERA_OPTION
@CONFIG_OPTION
def disable(name: str, camera_id: str, config_path: Path) -> None:
    """Stop app instance NAME on a camera; its settings stay in the file for `enable`."""
    from vigil.config.editor import SiteEditor, UnknownApp, UnknownCamera
    from vigil.service.supervisor import validate_site_text

    editor = SiteEditor(config_path, validate_site_text)
    try:
        scene, revision = editor.camera_scene(camera_id)
        current = _instance(scene, name)
        if current is None:
            raise UnknownApp(f"camera {camera_id!r} has no app named {name!r}")
        if current.get("enabled", True) is False:
            click.echo(f"app {name!r} on camera {camera_id!r} is already disabled")
            return
        editor.set_app(
            camera_id,
            name,
            current["type"],
            current.get("settings") or {},
            False,
            revision=revision,
        )
    except (UnknownCamera, UnknownApp, ConfigError) as err:
        raise _where(config_path, err) from None
    click.echo(f"disabled app {name!r} on camera {camera_id!r} in {config_path}")
    click.echo("a running `vigil serve` on this file applies it within seconds")
