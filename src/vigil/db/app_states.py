"""`AppStateStore`: what each app of a camera saved about itself (a line's totals, a zone's
peak), so that the camera's apps carry on from there after a restart or a move to another
node. In a cluster the save is fenced by the camera's lease (`vigil.db.fencing`): a node
that lost the camera cannot overwrite what its new node saves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select

from vigil.db.database import Database, upsert
from vigil.db.fencing import split_fenced
from vigil.db.schema import AppStateRow, utcnow

__all__ = ["AppStateStore"]


def _checked(camera: str, app: str, state: Any) -> dict[str, Any]:
    """`state` when it is a JSON object (strict JSON: no NaN); ValueError in one line
    naming the camera and app otherwise."""
    if not isinstance(state, dict):
        raise ValueError(f"app state of {camera}/{app}: not an object: {type(state).__name__}")
    try:
        json.dumps(state, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:
        raise ValueError(f"app state of {camera}/{app}: not JSON: {err}") from None
    return state


class AppStateStore:
    """App states in the `Database` (which stays open: close it when done)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"AppStateStore({str(self.database)!r})"

    def save(
        self, camera: str, states: Mapping[str, dict[str, Any]], *, epoch: int | None = None
    ) -> bool:
        """Store `states` (app name -> JSON object) as `camera`'s saved app states,
        replacing what the camera had (a worker sends every restorable app's state at
        once, so an app no longer in `states` was removed from the camera). With `epoch`
        (the lease epoch the camera runs under) nothing is stored unless the camera's lease
        is still at that epoch: False when refused. ValueError for a state that is not a
        JSON object."""
        checked = {app: _checked(camera, app, state) for app, state in states.items()}
        with self.database.write() as session:
            fence = None if epoch is None else {camera: epoch}
            allowed, _ = split_fenced(session, [camera], str, fence)
            if not allowed:
                return False
            gone = delete(AppStateRow).where(
                AppStateRow.camera == camera, AppStateRow.app.not_in(sorted(checked))
            )
            session.execute(gone)
            now = utcnow()
            for app, state in checked.items():
                insert = upsert(session, AppStateRow).values(
                    camera=camera, app=app, state=state, epoch=epoch, updated=now
                )
                session.execute(
                    insert.on_conflict_do_update(
                        index_elements=[AppStateRow.camera, AppStateRow.app],
                        set_={
                            "state": insert.excluded.state,
                            "epoch": insert.excluded.epoch,
                            "updated": insert.excluded.updated,
                        },
                    )
                )
        return True

    def load(self, camera: str) -> dict[str, dict[str, Any]]:
        """App name -> the state it last saved for `camera` ({} when none did)."""
        stmt = select(AppStateRow.app, AppStateRow.state).where(AppStateRow.camera == camera)
        with self.database.read() as session:
            return {app: dict(state) for app, state in session.execute(stmt)}
