"""Password-guess limits in the database (`vigil.auth.ratelimit.LoginLimiter`) on SQLite
and PostgreSQL: every API replica on one database (here: separate `Database`s and
`AuthStore`s, as separate processes have) counts the same guesses."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from accounts import FAST_HASHER
from vigil.auth.ratelimit import LoginLimiter
from vigil.auth.store import AuthStore
from vigil.db.database import Database

GUESSER = "203.0.113.9"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def replicas(database: str) -> Iterator[tuple[Database, Database]]:
    """Two opened handles on one database: two API replicas' (own pools, own connections)."""
    with Database(database) as one, Database(database) as two:
        yield one, two


def test_two_auth_stores_on_one_database_share_the_limits(
    replicas: tuple[Database, Database],
) -> None:
    one, two = (AuthStore(db, hasher=FAST_HASHER) for db in replicas)
    for _ in range(3):
        assert one.logins.attempt(GUESSER, "viewer") is None
    for _ in range(2):
        assert two.logins.attempt(GUESSER, "viewer") is None
    wait = one.logins.attempt(GUESSER, "viewer")  # 5 per name and address, on either
    assert wait is not None and 1 <= wait <= 300
    assert two.logins.attempt(GUESSER, "viewer") is not None
    assert two.logins.attempt("198.51.100.7", "viewer") is None  # the owner's address


def test_failures_are_forgotten_after_the_window_and_survive_a_restart(database: str) -> None:
    clock = Clock()
    with Database(database) as db:
        limiter = LoginLimiter(db, per_user_ip=2, window_s=60, clock=clock)
        assert limiter.attempt(GUESSER, "viewer") is None
        clock.now += 30
        assert limiter.attempt(GUESSER, "viewer") is None
        clock.now += 10
        assert limiter.attempt(GUESSER, "viewer") == 20  # until the first is 60 s old
    with Database(database) as db:  # the service restarted: still counted
        limiter = LoginLimiter(db, per_user_ip=2, window_s=60, clock=clock)
        assert limiter.attempt(GUESSER, "viewer") == 20
        clock.now += 20
        assert limiter.attempt(GUESSER, "viewer") is None  # the first one is forgotten


def test_success_takes_the_attempt_back_and_lifts_the_addresss_lock(database: str) -> None:
    clock = Clock()
    with Database(database) as db:
        limiter = LoginLimiter(db, per_ip=3, per_user_ip=2, per_user=3, clock=clock)
        assert limiter.attempt(GUESSER, "viewer") is None
        assert limiter.attempt(GUESSER, "viewer") is None
        assert limiter.attempt(GUESSER, "viewer") is not None  # 2 per name and address
        limiter.succeeded(GUESSER, "viewer")  # (the second try's password was right)
        assert limiter.attempt(GUESSER, "viewer") is None  # the name's lock here is lifted
        assert limiter.attempt(GUESSER, "other") is None  # 3 from this address: 2 + this
        assert limiter.attempt(GUESSER, "another") is not None
        # 3 per name from everywhere: the first try and these two (the second was taken back;
        # the address the user logged in from counts for the name no more).
        assert limiter.attempt("192.0.2.1", "viewer") is None
        assert limiter.attempt("192.0.2.2", "viewer") is None
        assert limiter.attempt("192.0.2.3", "viewer") is not None


def test_concurrent_guesses_on_two_replicas_count_exactly_the_limit(
    replicas: tuple[Database, Database],
) -> None:
    """Each replica checks and counts a guess in one serialised transaction: 40 guesses at
    once, half on each replica, let exactly the limit through."""
    limiters = [LoginLimiter(db, per_user_ip=5) for db in replicas]
    barrier = threading.Barrier(40)
    results: list[int | None] = []

    def guess(i: int) -> None:
        barrier.wait()
        results.append(limiters[i % 2].attempt(GUESSER, "viewer"))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40 and results.count(None) == 5
