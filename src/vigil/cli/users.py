"""`vigil users`: the service's accounts, in the database of a site config.

    vigil users add NAME [--admin | --role operator|viewer] [--cameras a,b] -c site.yaml
    vigil users list -c site.yaml
    vigil users remove NAME -c site.yaml
    vigil users token NAME -c site.yaml      # prints a new API token, once
    vigil users token NAME [--name LABEL] [--revoke] -c site.yaml
    vigil users grant-unmask NAME CAMERA[,CAMERA...] -c site.yaml   # '*': every camera
    vigil users revoke-unmask NAME [CAMERA[,CAMERA...]] -c site.yaml  # none: all of them
    vigil users display-token add NAME [--cameras a,b] -c site.yaml  # the analytics screen's
    vigil users display-token list -c site.yaml
    vigil users display-token revoke NAME -c site.yaml

Every change is recorded in the audit log (who: the operating-system user, from: "cli").
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from vigil.cli.options import config_option
from vigil.errors import VigilError

if TYPE_CHECKING:  # imported when a command runs: `vigil --help` stays quick
    from vigil.auth.store import AuthStore, User

__all__ = ["users"]

_config_option = config_option("Site YAML (its storage settings name the database).", required=True)


def _site(config_path: Path):
    from vigil.config.loader import load_config
    from vigil.config.site import SiteConfig

    site = load_config(config_path, model=SiteConfig)
    # As `vigil serve` does, so both reach the same SQLite file from any directory.
    site.storage.directory = site.storage.directory.resolve()
    return site


@contextmanager
def _auth(site) -> Iterator[AuthStore]:
    from vigil.auth.store import AuthStore
    from vigil.db.database import Database

    with Database(site.storage.database_url()) as database:
        yield AuthStore(database)


def _record(auth: AuthStore, action: str, target: str, **detail: object) -> None:
    auth.record(None, action, target, {"via": "cli", "os_user": getpass.getuser(), **detail})


def _cameras(
    text: str | None, site, config_path: Path, *, option: str = "--cameras", every: str = ""
) -> list[str] | None:
    """The camera ids of a comma-separated list, each one of the site's (or `every`)."""
    if text is None:
        return None
    ids = [c.strip() for c in text.split(",") if c.strip()]
    known = [c.id for c in site.cameras]
    unknown = [c for c in ids if c not in known and c != every]
    if not ids or unknown:
        raise VigilError(
            f"{option} {text!r}: unknown camera {unknown[0]!r} in {config_path} "
            f"(cameras: {', '.join(known)})"
            if unknown
            else f"{option}: give at least one camera id"
        )
    return ids


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group(name="users")
def users() -> None:
    """Accounts of the service: add, list, remove, API tokens."""


@users.command(name="add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Same as --role admin.")
@click.option("--role", help="admin, operator or viewer [viewer].")
@click.option("--cameras", help="Comma-separated camera ids the user may see [all].")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@_config_option
def add(
    name: str,
    admin: bool,
    role: str | None,
    cameras: str | None,
    password_stdin: bool,
    config_path: Path,
) -> None:
    """Add a user (the password is asked twice, or read from stdin)."""
    from vigil.auth.passwords import check_username
    from vigil.auth.principal import check_role

    if admin and role not in (None, "admin"):
        raise VigilError(f"--admin and --role {role}: give one of them")
    chosen = "admin" if admin else (role or "viewer")
    try:
        check_role(chosen)
    except ValueError as err:
        raise VigilError(f"--role: {err}") from None
    try:
        check_username(name)
    except ValueError as err:
        raise VigilError(str(err)) from None
    site = _site(config_path)
    camera_ids = _cameras(cameras, site, config_path)
    password = _password(password_stdin)
    with _auth(site) as auth:
        try:
            user = auth.add_user(name, password, chosen, camera_ids)
        except ValueError as err:
            raise VigilError(str(err)) from None
        _record(auth, "user.add", name, role=chosen, cameras=camera_ids)
    scope = "all cameras" if user.cameras is None else ", ".join(sorted(user.cameras))
    click.echo(f"added {user.username} ({user.role}; {scope})")


@users.command(name="list")
@_config_option
def list_users(config_path: Path) -> None:
    """Users with their role, cameras and where they may lift privacy masks."""
    with _auth(_site(config_path)) as auth:
        for user in auth.users():
            scope = "all" if user.cameras is None else ",".join(sorted(user.cameras))
            unmask = f"  may lift masks: {','.join(sorted(user.unmask))}" if user.unmask else ""
            click.echo(f"{user.username:<24} {user.role:<9} {scope}{unmask}")


@users.command(name="remove")
@click.argument("name")
@_config_option
def remove(name: str, config_path: Path) -> None:
    """Remove a user with their sessions and API tokens."""
    with _auth(_site(config_path)) as auth:
        auth.remove_user(name)
        _record(auth, "user.remove", name)
    click.echo(f"removed {name}")


@users.command(name="token")
@click.argument("name")
@click.option(
    "--name",
    "label",
    default=None,
    help="What will use the token (listed in the dashboard; with --revoke: only that one).",
)
@click.option("--revoke", is_flag=True, help="Revoke the user's tokens (or the one --name).")
@_config_option
def token(name: str, label: str | None, revoke: bool, config_path: Path) -> None:
    """Print a new API token of the user (shown once: only its hash is kept)."""
    with _auth(_site(config_path)) as auth:
        if revoke and label is not None:
            named = [t for t in auth.tokens(name) if t.name == label.strip()]
            if not named:
                raise click.ClickException(f"{name} has no API token named {label!r}")
            auth.revoke_token(name, named[0].id)
            _record(auth, "token.revoke", name, token=named[0].name)
            click.echo(f"revoked the token {named[0].name!r} of {name}")
            return
        if revoke:
            revoked = auth.revoke_tokens(name)
            _record(auth, "token.revoke", name, revoked=revoked)
            click.echo(f"revoked {revoked} token(s) of {name}")
            return
        value = auth.create_token(name, label)
        if label is None:
            _record(auth, "token.create", name)
        else:
            _record(auth, "token.create", name, name=label.strip())
    click.echo(value)


@users.command(name="grant-unmask")
@click.argument("name")
@click.argument("cameras")
@_config_option
def grant_unmask(name: str, cameras: str, config_path: Path) -> None:
    """Let the user lift the privacy masks of CAMERAS (comma-separated; '*': every camera
    they may see): each lift still needs a reason, is time-limited and audited."""
    from vigil.auth.principal import ALL_CAMERAS

    site = _site(config_path)
    ids = _cameras(cameras, site, config_path, option="CAMERAS", every=ALL_CAMERAS) or []
    with _auth(site) as auth:
        user = _user_or_raise(auth, name)
        user = auth.update_user(name, unmask=[*user.unmask, *ids])
        _record(auth, "user.update", name, unmask=sorted(user.unmask))
    click.echo(f"{name} may lift masks on: {', '.join(sorted(user.unmask))}")


@users.command(name="revoke-unmask")
@click.argument("name")
@click.argument("cameras", required=False)
@_config_option
def revoke_unmask(name: str, cameras: str | None, config_path: Path) -> None:
    """Take back the user's permission to lift masks on CAMERAS (none given: on all)."""
    from vigil.auth.principal import ALL_CAMERAS

    site = _site(config_path)
    ids = _cameras(cameras, site, config_path, option="CAMERAS", every=ALL_CAMERAS)
    with _auth(site) as auth:
        user = _user_or_raise(auth, name)
        kept = [] if ids is None else sorted(user.unmask - set(ids))
        user = auth.update_user(name, unmask=kept)
        _record(auth, "user.update", name, unmask=kept)
    click.echo(f"{name} may lift masks on: {', '.join(kept) or 'no camera'}")


def _user_or_raise(auth: AuthStore, name: str) -> User:
    user = auth.user(name)
    if user is None:
        raise VigilError(f"unknown user {name!r}")
    return user


@users.group(name="display-token")
def display_token() -> None:
    """Read-only display tokens of the analytics screen (/kiosk): they open that screen and
    nothing else."""


@display_token.command(name="add")
@click.argument("name")
@click.option("--cameras", help="Comma-separated camera ids the screen shows [all].")
@_config_option
def add_display_token(name: str, cameras: str | None, config_path: Path) -> None:
    """Print a new display token and the screen's link (shown once: only its hash is kept)."""
    from vigil.kiosk.tokens import DisplayTokens

    site = _site(config_path)
    camera_ids = _cameras(cameras, site, config_path)
    with _auth(site) as auth:
        value = DisplayTokens(auth.database).create(name, camera_ids)
        _record(auth, "display_token.create", name, cameras=camera_ids)
    click.echo(value)
    click.echo(f"screen: http://HOST:{site.server.port}/kiosk?token={value}", err=True)


@display_token.command(name="list")
@_config_option
def list_display_tokens(config_path: Path) -> None:
    """Display tokens with their cameras and when they were last used."""
    from datetime import datetime

    from vigil.kiosk.tokens import DisplayTokens

    with _auth(_site(config_path)) as auth:
        for token in DisplayTokens(auth.database).tokens():
            scope = "all" if token.cameras is None else ",".join(sorted(token.cameras))
            used = "never used"
            if token.last_used is not None:
                when = datetime.fromtimestamp(token.last_used).isoformat(" ", "seconds")
                used = f"last used {when}"
            click.echo(f"{token.name:<24} {scope}  {used}")


@display_token.command(name="revoke")
@click.argument("name")
@_config_option
def revoke_display_token(name: str, config_path: Path) -> None:
    """Revoke a display token: its screen stops at its next refresh."""
    from vigil.kiosk.tokens import DisplayTokens

    with _auth(_site(config_path)) as auth:
        DisplayTokens(auth.database).revoke(name)
        _record(auth, "display_token.revoke", name)
    click.echo(f"revoked display token {name}")
