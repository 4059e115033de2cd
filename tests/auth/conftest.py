"""Fixtures of the auth tests (see `deployment`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deployment import Deployment, build

from vigil.events import EventStore


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    with EventStore(f"sqlite:///{tmp_path / 'vigil.db'}") as store:
        yield build(tmp_path, store)
