"""Fixtures of the auth tests (see `deployment`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deployment import Deployment, build

from vigil.db.database import Database
from vigil.events import EventStore


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    with Database(f"sqlite:///{tmp_path / 'vigil.db'}") as database:
        store = EventStore(database)
        yield build(tmp_path, store)
