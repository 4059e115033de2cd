"""`AuthStore` on a real database: users and the password rules, sessions (idle and
absolute expiry, server-side logout), API tokens (only hashes stored), the audit log, and
the migration on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import create_engine, inspect, text

from accounts import FAST_HASHER, PASSWORD
from vigil.auth import AuthStore
from vigil.auth.passwords import WeakPasswordError
from vigil.auth.store import (
    AuthError,
    LastAdminError,
    TokenExistsError,
    UnknownTokenError,
    UnknownUserError,
    UserExistsError,
)
from vigil.db.database import Database


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(database: str) -> Iterator[Database]:
    """On each backend (tests/postgres_server.py's `database`: SQLite, PostgreSQL)."""
    with Database(database) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(db: Database, clock: Clock) -> AuthStore:
    return AuthStore(db, hasher=FAST_HASHER, clock=clock, session_idle_s=600, session_max_s=3600)


def test_users_roles_cameras_and_passwords(auth: AuthStore, db: Database) -> None:
    assert not auth.has_users()
    admin = auth.add_user("alice", PASSWORD, "admin")
    assert auth.has_users() and admin.cameras is None and admin.role == "admin"
    bob = auth.add_user("bob", PASSWORD, "viewer", [" gate", "yard", "gate"])
    assert bob.cameras == frozenset({"gate", "yard"})
    assert [u.username for u in auth.users()] == ["alice", "bob"]
    with pytest.raises(UserExistsError):
        auth.add_user("bob", PASSWORD)
    for weak, message in [
        ("short", "too short"),
        ("aaaaaaaaaaaa", "too weak"),
        ("Carol12345", "user name"),
    ]:
        with pytest.raises(WeakPasswordError, match=message):
            auth.add_user("Carol12345", weak)
    for name in ["", "bad name", "-x", "a" * 65, "é", "admin\n"]:
        with pytest.raises(ValueError, match="user name"):
            auth.add_user(name, PASSWORD)
    with pytest.raises(ValueError, match="role 'boss'"):
        auth.add_user("carol", PASSWORD, "boss")
    with pytest.raises(ValueError, match="cameras"):
        auth.add_user("carol", PASSWORD, "viewer", [" "])

    # The password is stored as an argon2id hash, never in clear.
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalars().all()
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in stored)
    assert auth.authenticate("alice", PASSWORD) == admin
    assert auth.authenticate("alice", PASSWORD + "x") is None
    assert auth.authenticate("nobody", PASSWORD) is None

    bob = auth.update_user("bob", role="operator", all_cameras=True)
    assert bob.role == "operator" and bob.cameras is None
    assert auth.update_user("bob", cameras=["gate"]).cameras == frozenset({"gate"})
    auth.update_user("bob", password="another password")
    assert auth.authenticate("bob", "another password") is not None
    with pytest.raises(UnknownUserError):
        auth.update_user("nobody", role="viewer")

    # Never without an admin: neither removed nor demoted.
    with pytest.raises(LastAdminError):
        auth.remove_user("alice")
    with pytest.raises(LastAdminError):
        auth.update_user("alice", role="viewer")
    auth.update_user("bob", role="admin")
    auth.remove_user("alice")
    assert [u.username for u in auth.users()] == ["bob"]
    with pytest.raises(UnknownUserError):
        auth.remove_user("alice")


def test_rehash_with_stronger_parameters(db: Database) -> None:
    weak = AuthStore(db, hasher=FAST_HASHER)
    weak.add_user("alice", PASSWORD, "admin")
    strong = AuthStore(db)  # the service's default parameters
    assert strong.authenticate("alice", PASSWORD) is not None
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert "t=1," not in stored and strong.authenticate("alice", PASSWORD) is not None


def test_sessions_expire_idle_and_absolute_and_end_on_logout(
    auth: AuthStore, clock: Clock, db: Database
) -> None:
    auth.add_user("alice", PASSWORD, "admin")
    cookie, csrf = auth.create_session("alice", "127.0.0.1")
    session = auth.session(cookie)
    assert session is not None and session.csrf_token == csrf
    assert session.principal.username == "alice" and session.principal.role == "admin"
    assert auth.session(cookie + "x") is None
    with db.engine.connect() as conn:  # the cookie value itself is not stored
        ids = conn.execute(text("SELECT id FROM auth_sessions")).scalars().all()
    assert cookie not in ids and len(ids) == 1

    # Used every 9 minutes: the idle timeout (10 min) never strikes...
    for _ in range(6):
        clock.now += 540
        assert auth.session(cookie) is not None
    # ...but the absolute one (1 h) does.
    clock.now += 540
    assert auth.session(cookie) is None

    cookie, _ = auth.create_session("alice")
    clock.now += 601
    assert auth.session(cookie) is None  # idle

    cookie, _ = auth.create_session("alice")
    auth.end_session(cookie)
    assert auth.session(cookie) is None  # logged out: gone on the server

    cookie, _ = auth.create_session("alice")
    auth.add_user("bob", PASSWORD, "admin")
    auth.update_user("alice", password="a new password")
    assert auth.session(cookie) is None  # a new password ends the sessions
    cookie, _ = auth.create_session("alice")
    auth.remove_user("alice")
    assert auth.session(cookie) is None

    auth.create_session("bob")
    clock.now += 10_000
    assert auth.sweep_sessions() == 1
    with pytest.raises(UnknownUserError):
        auth.create_session("alice")


def test_api_tokens_are_stored_hashed(auth: AuthStore, db: Database) -> None:
    auth.add_user("cam-bot", PASSWORD, "operator", ["gate"])
    token = auth.create_token("cam-bot")
    other = auth.create_token("cam-bot")
    assert token != other and token.startswith("vigil_") and len(token) > 40
    principal = auth.token(token)
    assert principal is not None and principal.role == "operator"
    assert principal.cameras == frozenset({"gate"})
    assert auth.token(token[:-1]) is None and auth.token("") is None
    with db.engine.connect() as conn:
        hashes = conn.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert len(hashes) == 2 and token not in hashes and other not in hashes
    auth.update_user("cam-bot", role="viewer")
    assert auth.token(token).role == "viewer"  # type: ignore[union-attr]  # follows the user
    assert auth.revoke_tokens("cam-bot") == 2
    assert auth.token(token) is None
    with pytest.raises(UnknownUserError):
        auth.create_token("nobody")
    with pytest.raises(UnknownUserError):
        auth.revoke_tokens("nobody")


def test_named_tokens_are_listed_with_their_last_use_and_revoked_one_by_one(
    auth: AuthStore, clock: Clock
) -> None:
    auth.add_user("cam-bot", PASSWORD, "operator")
    auth.add_user("other", PASSWORD, "viewer")
    nvr = auth.create_token("cam-bot", " nvr-export ")
    clock.now += 5
    home = auth.create_token("cam-bot", "home-assistant")
    unnamed = auth.create_token("cam-bot")
    theirs = auth.create_token("other", "nvr-export")  # names are per user
    with pytest.raises(TokenExistsError):
        auth.create_token("cam-bot", "nvr-export")
    for bad in ("", "   ", "x" * 101, "tab\there"):
        with pytest.raises(AuthError, match="token name"):
            auth.create_token("cam-bot", bad)
    listed = auth.tokens("cam-bot")
    assert [(t.name, t.last_used) for t in listed] == [
        ("nvr-export", None),
        ("home-assistant", None),
        (None, None),
    ]
    assert listed[1].created_at == listed[0].created_at + 5
    clock.now += 100
    assert auth.token(home) is not None
    assert [t.last_used for t in auth.tokens("cam-bot")] == [None, clock.now, None]

    revoked = auth.revoke_token("cam-bot", listed[1].id)
    assert revoked.name == "home-assistant"
    assert auth.token(home) is None  # that one only
    assert auth.token(nvr) is not None and auth.token(unnamed) is not None
    with pytest.raises(UnknownTokenError):
        auth.revoke_token("cam-bot", listed[1].id)
    with pytest.raises(UnknownTokenError):  # another user's token is not theirs to revoke
        auth.revoke_token("cam-bot", auth.tokens("other")[0].id)
    assert auth.token(theirs) is not None
    with pytest.raises(UnknownUserError):
        auth.tokens("nobody")


def test_audit_log_pages_and_filters(auth: AuthStore, clock: Clock) -> None:
    for i in range(5):
        clock.now += 1
        auth.record("alice" if i % 2 else "bob", "login", "x", {"i": i}, "10.0.0.1")
    auth.record(None, "login.failed", "mallory", None, None)
    total, entries = auth.audit_log(limit=2)
    assert total == 6 and [e.action for e in entries] == ["login.failed", "login"]
    assert entries[1].detail == {"i": 4} and entries[1].client_ip == "10.0.0.1"
    total, entries = auth.audit_log(user="alice")
    assert total == 2 and [e.detail["i"] for e in entries] == [3, 1]
    total, entries = auth.audit_log(action="login", offset=4)
    assert total == 5 and [e.detail["i"] for e in entries] == [0]


def test_migration_creates_the_auth_tables(db: Database) -> None:
    names = set(inspect(db.engine).get_table_names())
    assert {"users", "auth_sessions", "api_tokens", "audit_log"} <= names


def test_migration_runs_on_postgresql(postgres_url: str) -> None:
    with Database(postgres_url) as database:
        auth = AuthStore(database, hasher=FAST_HASHER)
        auth.add_user("alice", PASSWORD, "admin", ["gate"])
        token = auth.create_token("alice")
        assert auth.token(token).cameras == frozenset({"gate"})  # type: ignore[union-attr]
        auth.record("alice", "login", "alice", {"nested": {"a": [1, 2]}}, "::1")
        assert auth.audit_log()[1][0].detail == {"nested": {"a": [1, 2]}}
        with pytest.raises(UserExistsError):
            auth.add_user("alice", PASSWORD)
    engine = create_engine(postgres_url)
    try:
        types = {c["name"]: str(c["type"]) for c in inspect(engine).get_columns("users")}
        assert types["cameras"] == "JSONB"
    finally:
        engine.dispose()


def test_last_used_writes_that_fail_never_fail_the_request(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A token's last-used and a session's last-seen time are bookkeeping: when the database
    refuses the write (here another writer holds it locked; a full disk alike), the token
    and the session still authenticate, and the failure is logged once."""
    with Database(tmp_path / "vigil.db") as database:
        auth = AuthStore(database, hasher=FAST_HASHER, clock=clock)
        auth.add_user("alice", PASSWORD, "admin")
        token = auth.create_token("alice")
        cookie, _ = auth.create_session("alice")
        # New connections give up on a lock after 50 ms instead of 30 s.
        sqlalchemy.event.listen(
            database.engine, "connect", lambda conn, _: conn.execute("PRAGMA busy_timeout = 50")
        )
        database.engine.dispose()
        clock.now += 120  # both times are stale: the next use writes them
        blocker = sqlite3.connect(tmp_path / "vigil.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with caplog.at_level("WARNING", logger="vigil.auth.store"):
                principal = auth.token(token)
                session = auth.session(cookie)
        finally:
            blocker.rollback()
            blocker.close()
        assert principal is not None and principal.username == "alice"
        assert session is not None and session.principal.username == "alice"
        assert len(caplog.records) == 1 and "locked" in caplog.records[0].getMessage()
