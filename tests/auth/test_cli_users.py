"""`vigil users`: add (prompt or stdin), list, token, remove, on a site config's database,
with one-line errors and exit code 2 for bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli.cli_helpers import Result, assert_one_line_error, env_changes, run_vigil
from vigil.auth import AuthStore
from vigil.db.database import Database

SITE = """\
cameras:
  - {id: gate, url: "rtsp://127.0.0.1:9/gate"}
  - {id: yard, url: "rtsp://127.0.0.1:9/yard"}
storage: {directory: data}
"""
GOOD = "a long passphrase"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "site.yaml").write_text(SITE)
    return tmp_path


def users(cwd: Path, *args: str, input: str | None = None) -> Result:  # noqa: A002
    """``vigil users ARGS -c site.yaml`` in this process, with `input` on stdin."""
    from click.testing import CliRunner

    from vigil.cli.main import cli

    words = ["users", *args, "-c", "site.yaml"]
    before = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(
            cli, words, input=input, env=env_changes(cwd, cwd), prog_name="vigil"
        )
    finally:
        os.chdir(before)
    assert result.exception is None or isinstance(result.exception, SystemExit), result
    return Result(tuple(words), result.exit_code, result.stdout, result.stderr)


def auth_of(cwd: Path) -> tuple[Database, AuthStore]:
    database = Database(f"sqlite:///{cwd / 'data' / 'vigil.db'}")
    return database, AuthStore(database)


def test_add_list_token_remove(site: Path) -> None:
    r = users(site, "add", "alice", "--admin", "--password-stdin", input=GOOD + "\n")
    assert r.returncode == 0 and r.stdout == "added alice (admin; all cameras)\n", r
    r = users(site, "add", "bob", "--role", "operator", "--cameras", "gate", input=f"{GOOD}\n" * 2)
    assert r.returncode == 0 and "added bob (operator; gate)" in r.stdout, r
    r = users(site, "list")
    assert r.stdout.split("\n")[:2] == [
        f"{'alice':<24} {'admin':<9} all",
        f"{'bob':<24} {'operator':<9} gate",
    ]
    token = users(site, "token", "bob").stdout.strip()
    database, auth = auth_of(site)
    with database:
        assert auth.authenticate("alice", GOOD) is not None
        principal = auth.token(token)
        assert principal is not None and principal.cameras == frozenset({"gate"})
    assert users(site, "token", "bob", "--revoke").stdout == "revoked 1 token(s) of bob\n"
    database, auth = auth_of(site)
    with database:
        assert auth.token(token) is None
    token = users(site, "token", "bob").stdout.strip()
    assert users(site, "remove", "bob").stdout == "removed bob\n"
    database, auth = auth_of(site)
    with database:
        assert auth.token(token) is None and [u.username for u in auth.users()] == ["alice"]
        _, entries = auth.audit_log()
        assert [(e.action, e.target) for e in entries] == [
            ("user.remove", "bob"),
            ("token.create", "bob"),
            ("token.revoke", "bob"),
            ("token.create", "bob"),
            ("user.add", "bob"),
            ("user.add", "alice"),
        ]
        assert entries[0].detail["via"] == "cli" and entries[0].detail["os_user"]


def test_named_tokens_from_the_cli(site: Path) -> None:
    users(site, "add", "dan", "--password-stdin", input=GOOD + "\n")
    nvr = users(site, "token", "dan", "--name", "nvr").stdout.strip()
    home = users(site, "token", "dan", "--name", "home").stdout.strip()
    again = users(site, "token", "dan", "--name", "nvr")
    assert again.returncode != 0 and "already has a token named 'nvr'" in again.stderr, again
    assert "Traceback" not in again.stderr
    r = users(site, "token", "dan", "--name", "nvr", "--revoke")
    assert r.stdout == "revoked the token 'nvr' of dan\n", r
    r = users(site, "token", "dan", "--name", "nvr", "--revoke")
    assert r.returncode != 0 and "dan has no API token named 'nvr'" in r.stderr, r
    database, auth = auth_of(site)
    with database:
        assert auth.token(nvr) is None and auth.token(home) is not None
        assert [t.name for t in auth.tokens("dan")] == ["home"]
        _, entries = auth.audit_log()
        assert entries[0].action == "token.revoke" and entries[0].detail["token"] == "nvr"


@pytest.mark.parametrize(
    ("args", "stdin", "fragments"),
    [
        (["add", "carol", "--password-stdin"], "short\n", ["password too short", "10"]),
        (["add", "carol", "--role", "boss", "--password-stdin"], GOOD, ["--role", "'boss'"]),
        (["add", "carol", "--admin", "--role", "viewer"], GOOD, ["--admin and --role"]),
        (["add", "bad name", "--password-stdin"], GOOD, ["user name 'bad name'"]),
        (
            ["add", "carol", "--cameras", "gate,nope", "--password-stdin"],
            GOOD,
            ["unknown camera 'nope'", "site.yaml", "gate, yard"],
        ),
        (["remove", "nobody"], None, ["unknown user 'nobody'"]),
        (["token", "nobody"], None, ["unknown user 'nobody'"]),
        (["grant-unmask", "nobody", "gate"], None, ["unknown user 'nobody'"]),
        (["grant-unmask", "nobody", "gate,nope"], None, ["CAMERAS", "unknown camera 'nope'"]),
        (["revoke-unmask", "nobody"], None, ["unknown user 'nobody'"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    site: Path, args: list[str], stdin: str | None, fragments: list[str]
) -> None:
    assert_one_line_error(users(site, *args, input=stdin), *fragments)


def test_grant_and_revoke_unmask(site: Path) -> None:
    """The permission to lift privacy masks, per user and camera, audited."""
    users(site, "add", "bob", "--role", "operator", "--password-stdin", input=GOOD)
    r = users(site, "grant-unmask", "bob", "gate")
    assert r.returncode == 0 and r.stdout == "bob may lift masks on: gate\n", r
    assert (
        users(site, "grant-unmask", "bob", "yard").stdout == "bob may lift masks on: gate, yard\n"
    )
    database, auth = auth_of(site)
    with database:
        user = auth.user("bob")
        assert user is not None and user.principal.may_unmask("yard")
        assert not user.principal.may_unmask("porch")
    assert (
        users(site, "list").stdout
        == f"{'bob':<24} {'operator':<9} all  may lift masks: gate,yard\n"
    )
    assert users(site, "revoke-unmask", "bob", "gate").stdout == "bob may lift masks on: yard\n"
    assert users(site, "grant-unmask", "bob", "*").stdout == "bob may lift masks on: *, yard\n"
    assert users(site, "revoke-unmask", "bob").stdout == "bob may lift masks on: no camera\n"
    database, auth = auth_of(site)
    with database:
        user = auth.user("bob")
        assert user is not None and user.unmask == frozenset()
        _, entries = auth.audit_log(action="user.update")
        assert [e.detail["unmask"] for e in entries] == [[], ["*", "yard"], ["yard"],
                                                         ["gate", "yard"], ["gate"]]  # fmt: skip


def test_never_the_last_admin_and_no_duplicates(site: Path) -> None:
    users(site, "add", "alice", "--admin", "--password-stdin", input=GOOD)
    assert_one_line_error(users(site, "remove", "alice"), "last admin")
    r = users(site, "add", "alice", "--password-stdin", input=GOOD)
    assert_one_line_error(r, "user 'alice' already exists")


def test_the_real_command(site: Path) -> None:
    """As a user runs it: one line, exit 2, no traceback (the subprocess)."""
    r = run_vigil("users", "remove", "nobody", "-c", "site.yaml", cwd=site, models=site)
    assert_one_line_error(r, "unknown user 'nobody'")


def test_display_tokens_from_the_command_line(site: Path) -> None:
    """`vigil users display-token add/list/revoke`: the token opens the screen's data (its
    cameras only) and nothing else; bad input is one line; every change is audited."""
    from vigil.kiosk.tokens import DisplayTokens

    r = users(site, "display-token", "add", "lobby", "--cameras", "gate")
    assert r.returncode == 0, r
    value = r.stdout.strip()
    assert value.startswith("vigil_display_") and f"/kiosk?token={value}" in r.stderr
    assert users(site, "display-token", "list").stdout.startswith("lobby")
    assert "gate  never used" in users(site, "display-token", "list").stdout
    assert_one_line_error(
        users(site, "display-token", "add", "lobby"), "display token 'lobby' already exists"
    )
    assert_one_line_error(
        users(site, "display-token", "add", "hall", "--cameras", "nope"), "unknown camera 'nope'"
    )
    database, auth = auth_of(site)
    with database:
        token = DisplayTokens(database).check(value)
        assert token is not None and token.cameras == frozenset({"gate"})
        assert auth.token(value) is None  # not an API token: the rest of the API refuses it
    r = users(site, "display-token", "revoke", "lobby")
    assert r.returncode == 0 and r.stdout == "revoked display token lobby\n", r
    assert_one_line_error(
        users(site, "display-token", "revoke", "lobby"), "unknown display token 'lobby'"
    )
    database, auth = auth_of(site)
    with database:
        assert DisplayTokens(database).check(value) is None
        _, entries = auth.audit_log()
    assert [(e.action, e.target) for e in entries] == [
        ("display_token.revoke", "lobby"),
        ("display_token.create", "lobby"),
    ]
