"""events stage: the `Event` model and the `EventStore` (events in `vigil.db.Database`).

`EventStore` is imported lazily so that apps importing `Event` do not load SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vigil.events.event import Event, EventState, new_event_id

if TYPE_CHECKING:
    from vigil.events.store import EventStore

__all__ = ["Event", "EventState", "EventStore", "new_event_id"]


def __getattr__(name: str) -> Any:
    if name == "EventStore":
        from vigil.events import store

        return getattr(store, name)
    raise AttributeError(f"module 'vigil.events' has no attribute {name!r}")
