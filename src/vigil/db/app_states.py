"""`AppStateStore`: what the restorable apps of each camera saved (`vigil.apps.base.App.
snapshot`, as the workers' `AppStates` carry it), so that the camera's next worker (after a
restart of the worker or the service, or on another node) starts its apps from it.

A node writes under the epoch of its lease on the camera (`vigil.db.fencing`): once the
camera was given to another node, the old node's saves are refused, so a late save cannot
overwrite what the camera's new node saved. A single box saves unfenced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select

from vigil.db.database import Database
from vigil.db.fencing import split_fenced
from vigil.db.schema import AppStateRow, utcnow

__all__ = ["AppStateStore"]


class AppStateStore:
    """The saved app states by camera, in `database`'s ``app_states`` table."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"AppStateStore({self.database!r})"

    def save(
        self, camera: str, states: Mapping[str, dict[str, Any]], *, epoch: int | None = None
    ) -> bool:
        """Make `states` (app instance name -> state) the camera's saved states, replacing
        those it had; False, and nothing stored, when `epoch` is given and is not the
        epoch of the camera's lease (another node holds it now)."""
        with self.database.write() as session:
            if epoch is not None:
                allowed, _ = split_fenced(session, [camera], str, {camera: epoch})
                if not allowed:
                    return False
            session.execute(delete(AppStateRow).where(AppStateRow.camera == camera))
            now = utcnow()
            session.add_all(
                AppStateRow(camera=camera, app=app, state=state, epoch=epoch, updated=now)
                for app, state in states.items()
            )
        return True

    def load(self, camera: str) -> dict[str, dict[str, Any]]:
        """The camera's saved states (app instance name -> state); {} when none."""
        with self.database.read() as session:
            rows = session.execute(
                select(AppStateRow.app, AppStateRow.state).where(AppStateRow.camera == camera)
            )
            return {app: state for app, state in rows}
