"""Camera leases (`vigil.cluster.leases.LeaseStore`) on SQLite and PostgreSQL: epochs only
go up, a renewal tells a node which cameras it lost, concurrent grants never share an epoch."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from vigil.cluster.leases import LeaseStore
from vigil.db.database import Database


@pytest.fixture
def leases(database: str) -> Iterator[LeaseStore]:
    with Database(database) as opened:
        yield LeaseStore(opened)


def test_each_grant_increments_the_cameras_epoch(leases: LeaseStore) -> None:
    first = leases.grant("cam1", "head")
    assert (first.camera, first.node, first.epoch) == ("cam1", "head", 1)
    assert first.since == first.renewed
    moved = leases.grant("cam1", "node-2")
    assert (moved.node, moved.epoch) == ("node-2", 2) and moved.since >= first.since
    assert leases.grant("cam2", "head").epoch == 1  # epochs are per camera
    assert leases.grant("cam1", "node-2").epoch == 3  # a grant to the same node too
    assert {c: (lease.node, lease.epoch) for c, lease in leases.current().items()} == {
        "cam1": ("node-2", 3),
        "cam2": ("head", 1),
    }


def test_a_revoked_camera_has_no_lease_and_continues_upwards(leases: LeaseStore) -> None:
    leases.grant("cam1", "head")
    leases.revoke("cam1")
    leases.revoke("cam1")  # twice: nothing more happens
    leases.revoke("never-leased")
    assert leases.current() == {}
    assert leases.renew("head", {"cam1": 1}) == {"cam1"}
    assert leases.grant("cam1", "head").epoch == 3  # 1, revoked at 2, granted at 3


def test_renew_returns_the_cameras_a_node_no_longer_holds(leases: LeaseStore) -> None:
    a = leases.grant("cam1", "node-a")
    leases.grant("cam2", "node-a")
    leases.grant("cam2", "node-b")  # taken away from node-a
    assert leases.renew("node-a", {"cam1": 1, "cam2": 1, "gone": 4}) == {"cam2", "gone"}
    assert leases.renew("node-a", {"cam1": 2}) == {"cam1"}  # an epoch it never had
    assert leases.renew("node-b", {"cam2": 2}) == set()
    renewed = leases.current()
    assert renewed["cam1"].renewed > a.renewed and renewed["cam1"].since == a.since
    assert leases.renew("node-a", {}) == set()


def test_concurrent_grants_never_share_an_epoch(leases: LeaseStore) -> None:
    """Several heads (or one head's threads) granting the same new camera at once: every
    grant gets its own epoch, 1..n, the row's is the last."""
    n = 8
    barrier = threading.Barrier(n)
    epochs: list[int] = []
    errors: list[BaseException] = []

    def grant(i: int) -> None:
        try:
            barrier.wait()
            epochs.append(leases.grant("cam1", f"node-{i}").epoch)
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=grant, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(epochs) == list(range(1, n + 1))
    assert leases.current()["cam1"].epoch == n
