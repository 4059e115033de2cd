"""``vigil apps``: the apps a config may use — list them, create one, install, upgrade and
remove store apps. (``enable``/``disable`` on a camera are added by `vigil.cli.assign`.)"""

from __future__ import annotations

from pathlib import Path

import click

from vigil.cli.options import config_option
from vigil.cli.store import CATALOG_HELP, warn

DEVELOPER_MODE_HELP = (
    "Install even if the signature is missing, from an untrusted key or invalid (never if a "
    "wheel's sha256 differs from the index). For app developers only."
)


@click.group()
def apps() -> None:
    """Apps: list them, create one, install, upgrade or remove store apps, run them on cameras."""


@apps.command(name="list")
def list_apps() -> None:
    """The apps a config may name, their version and where they come from."""
    from vigil.appstore.installed import read_records
    from vigil.appstore.registry import available_apps

    records = read_records()
    for kind, app in available_apps().items():
        m = app.manifest
        if app.origin == "builtin":
            origin = "built-in"
        elif app.origin == "entry_point":
            origin = "entry point in Vigil's environment (in-process, trusted)"
        else:
            signer = records[kind].signed_by
            origin = f"store, sandboxed, {f'signed by {signer}' if signer else 'UNVERIFIED (developer mode)'}"
        click.echo(f"{kind:<18} {m.version:<9} {m.vendor:<16} {origin}")


@apps.command()
@click.argument("name")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), help="Project directory [./NAME]."
)
@click.option("--vendor", default="Me", show_default=True, help="Vendor name in the manifest.")
def new(name: str, directory: Path | None, vendor: str) -> None:
    """Create a new app project NAME (an installable, testable Python package)."""
    from vigil.appstore.scaffold import new_app, wheel_command

    path = new_app(name, directory or Path(name), vendor)
    click.echo(f"created {path}: edit src/{name}/app.py, then build its wheel with")
    click.echo(f"  {wheel_command(path)}")


def _report(outcomes) -> None:
    for outcome in outcomes:
        for message in outcome.warnings:
            warn(message)
        was = f" (was {outcome.previous})" if outcome.previous else ""
        how = f"signature by {outcome.signed_by} verified" if outcome.signed_by else "UNVERIFIED"
        click.echo(f"installed {outcome.app_id} {outcome.version}{was}, {how}")


@apps.command()
@click.argument("spec", metavar="ID[==VERSION]")
@click.option("--catalog", help=CATALOG_HELP)
@click.option("--developer-mode", is_flag=True, help=DEVELOPER_MODE_HELP)
def install(spec: str, catalog: str | None, developer_mode: bool) -> None:
    """Install an app from a catalog after verifying its signature and sha256."""
    from vigil.appstore.catalog import Catalog, catalog_location
    from vigil.appstore.install import install as install_app

    if developer_mode:
        warn("developer mode: signatures are not enforced")
    _report([install_app(spec, Catalog(catalog_location(catalog)), developer_mode=developer_mode)])


@apps.command()
@click.argument("app_id", metavar="ID")
@config_option("The site YAML of `vigil serve`: refuse while a camera there runs the app.")
@click.option(
    "--force", is_flag=True, help="Remove it even while cameras run it (disable it there too)."
)
def remove(app_id: str, config_path: Path | None, force: bool) -> None:
    """Uninstall a store app (refused while a camera of --config runs it, unless --force)."""
    from vigil.appstore import AppStoreError
    from vigil.appstore.install import remove as remove_app
    from vigil.appstore.install import require_installed
    from vigil.appstore.installed import read_records
    from vigil.config.loader import load_config
    from vigil.config.site import SiteConfig

    require_installed(app_id, read_records())
    if not force:
        if config_path is None:
            raise AppStoreError(
                f"vigil apps remove {app_id}: pass --config SITE.yaml (to check that no "
                "camera runs it) or --force"
            )
        cameras = load_config(config_path, model=SiteConfig).cameras_running(app_id)
        if cameras:
            raise AppStoreError(
                f"app {app_id!r} is enabled on camera(s) {', '.join(cameras)} in {config_path}: "
                f"disable it there first (vigil apps disable), or pass --force"
            )
    click.echo(f"removed {app_id} {remove_app(app_id)}")


@apps.command()
@click.argument("app_id", metavar="[ID]", required=False)
@click.option("--catalog", help="Catalog to upgrade from [the one each app came from].")
@click.option("--developer-mode", is_flag=True, help=DEVELOPER_MODE_HELP)
def upgrade(app_id: str | None, catalog: str | None, developer_mode: bool) -> None:
    """Upgrade one store app (or all) to the newest version for this Vigil's SDK."""
    from vigil.appstore.install import upgrade as upgrade_apps

    if developer_mode:
        warn("developer mode: signatures are not enforced")
    outcomes = upgrade_apps(app_id, catalog, developer_mode=developer_mode)
    _report(outcomes)
    if not outcomes:
        click.echo("all up to date" if app_id is None else f"{app_id} is up to date")
