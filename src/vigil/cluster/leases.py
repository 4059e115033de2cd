"""`LeaseStore`: which node runs each camera, as lease rows in the site's database.

The head grants a camera to a node by incrementing the camera's epoch; the epoch is the
node's fencing token for everything it writes about the camera (events, segments, app
state: `vigil.db.fencing`), so a node that lost a camera can no longer write for it. The
node's agent renews its leases every few seconds; a renewal that finds a camera's epoch
moved on (granted elsewhere, revoked) tells the agent to stop that camera.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from vigil.db.database import Database, in_chunks, upsert
from vigil.db.schema import LeaseRow, utcnow

__all__ = ["Lease", "LeaseStore"]


@dataclass(frozen=True)
class Lease:
    """`node` runs `camera` under `epoch` since `since`; last renewed at `renewed`."""

    camera: str
    node: str
    epoch: int
    since: datetime
    renewed: datetime


def _lease(row: LeaseRow) -> Lease:
    assert row.node is not None  # revoked rows are never turned into leases
    return Lease(row.camera, row.node, int(row.epoch), row.since, row.renewed)


class LeaseStore:
    """Camera leases in the `Database` (which stays open: close it when done)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"LeaseStore({str(self.database)!r})"

    def grant(self, camera: str, node: str) -> Lease:
        """Give `camera` to `node` under a new epoch (the previous one + 1, 1 for a camera
        never leased): one atomic statement that waits for fenced writes in progress."""
        now = utcnow()
        with self.database.write() as session:
            insert = upsert(session, LeaseRow).values(
                camera=camera, node=node, epoch=1, since=now, renewed=now
            )
            stmt = insert.on_conflict_do_update(
                index_elements=[LeaseRow.camera],
                set_={
                    "node": node,
                    "epoch": LeaseRow.epoch + 1,
                    "since": now,
                    "renewed": now,
                },
            ).returning(LeaseRow)
            row = session.scalars(stmt).one()
            return _lease(row)

    def revoke(self, camera: str) -> None:
        """`camera` left the site: no node holds it any more. Its row stays, without a
        node and one epoch on (so writes under the last epoch are refused, and a camera
        added again continues upwards rather than reusing an old epoch)."""
        with self.database.write() as session:
            session.execute(
                update(LeaseRow)
                .where(LeaseRow.camera == camera, LeaseRow.node.is_not(None))
                .values(node=None, epoch=LeaseRow.epoch + 1, renewed=utcnow())
            )

    def renew(self, node: str, held: Mapping[str, int]) -> set[str]:
        """Renew the leases `node` still holds at the epochs of `held` (camera -> epoch);
        returns the cameras of `held` it no longer holds (stop them)."""
        still: list[str] = []
        with self.database.write() as session:
            for chunk in in_chunks(sorted(held)):
                stmt = (
                    select(LeaseRow.camera, LeaseRow.node, LeaseRow.epoch)
                    .where(LeaseRow.camera.in_(chunk))
                    .order_by(LeaseRow.camera)  # the order fenced writes lock them in
                    .with_for_update()
                )
                still += [
                    camera
                    for camera, owner, epoch in session.execute(stmt)
                    if owner == node and epoch == held[camera]
                ]
            now = utcnow()
            for chunk in in_chunks(still):
                session.execute(
                    update(LeaseRow).where(LeaseRow.camera.in_(chunk)).values(renewed=now)
                )
        return set(held) - set(still)

    def current(self) -> dict[str, Lease]:
        """Camera -> its lease, for every camera a node holds."""
        stmt = select(LeaseRow).where(LeaseRow.node.is_not(None)).order_by(LeaseRow.camera)
        with self.database.read() as session:
            return {row.camera: _lease(row) for row in session.scalars(stmt)}
