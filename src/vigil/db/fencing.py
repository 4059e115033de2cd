"""Fenced writes: a node writes a camera's events, segments and app state under the epoch
of its lease on that camera (`vigil.cluster.leases.LeaseStore`), and a write whose epoch is
no longer the camera's is refused, so a node that lost a camera (partitioned, paused, slow
to notice) cannot overwrite what the camera's new node writes.

The check runs in the writer's own transaction. On PostgreSQL it reads the lease rows
``FOR SHARE``: a grant (which updates the row) waits until the write commits, and a write
waits for a grant in progress and then sees its new epoch, so every write is either before
the grant or refused. SQLite serialises write transactions (``BEGIN IMMEDIATE``) anyway.
Rows are locked in camera order, as the renewal locks them, so the two never deadlock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.db.database import in_chunks
from vigil.db.schema import LeaseRow

__all__ = ["held_epochs", "split_fenced"]

T = TypeVar("T")


def held_epochs(session: Session, cameras: Collection[str]) -> dict[str, int]:
    """Camera -> the epoch of its lease, for those of `cameras` a node holds (a revoked
    camera has none), read with a shared row lock held until the transaction ends."""
    epochs: dict[str, int] = {}
    for chunk in in_chunks(sorted(set(cameras))):
        stmt = (
            select(LeaseRow.camera, LeaseRow.epoch)
            .where(LeaseRow.camera.in_(chunk), LeaseRow.node.is_not(None))
            .order_by(LeaseRow.camera)
            .with_for_update(read=True)  # FOR SHARE; SQLite: nothing (writes are serial)
        )
        epochs.update((camera, int(epoch)) for camera, epoch in session.execute(stmt))
    return epochs


def split_fenced(
    session: Session,
    items: Iterable[T],
    camera_of: Callable[[T], str],
    fence: Mapping[str, int] | None,
) -> tuple[list[T], list[T]]:
    """(items that may be written, items refused) in the caller's write transaction: with
    `fence` (camera -> the writer's epoch) an item is refused unless its camera's lease is
    at exactly that epoch; without, nothing is refused (a single box)."""
    batch: Sequence[T] = list(items)
    if fence is None:
        return list(batch), []
    epochs = held_epochs(session, {camera_of(item) for item in batch})
    allowed: list[T] = []
    refused: list[T] = []
    for item in batch:
        camera = camera_of(item)
        ok = camera in fence and epochs.get(camera) == fence[camera]
        (allowed if ok else refused).append(item)
    return allowed, refused
