"""End to end: `vigil run` on the sample clip stores track summaries, and the heat map built
from its events.db has its mass where people walked (skipped without ../shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke_vigil
from sqlalchemy import select

from vigil.db.database import Database
from vigil.db.schema import TrackRow
from vigil.forensics.heatmap import dwell, grid_shape, occupancy

pytestmark = pytest.mark.integration

FRAMES = 200  # 20 s of PETS09 view 1: people cross the walkway both ways


def test_heat_map_of_the_sample_clip_covers_the_walkway(
    tmp_path: Path, shared_model: Path, shared_clip: Path
) -> None:
    (tmp_path / "vtest.avi").symlink_to(shared_clip)
    result = invoke_vigil(
        "run", "vtest.avi", "--max-frames", str(FRAMES), "--no-video", "-o", "out",
        cwd=tmp_path, models=shared_model.parent,
    )  # fmt: skip
    assert result.returncode == 0, result
    with Database(tmp_path / "out" / "events.db") as database:
        with database.read() as session:
            (camera,) = session.scalars(select(TrackRow.source).distinct()).all()
        heat = occupancy(
            database, camera, -1e9, 1e12, ["person"], grid_shape((768, 576))
        ).grid  # fmt: skip
        assert dwell(database, camera, -1e9, 1e12) == []  # no zones configured
    assert heat.shape == (48, 64)
    assert heat.sum() > 60  # ten-odd people tracked over most of 20 s
    walked = heat > 0
    # the walkway runs from the left edge (y ~ 0.4) down to the bottom right (y ~ 0.7):
    # the building's wall above it and the lawn below it stay empty
    assert not walked[:10].any(), "mass on the building's wall"
    assert not walked[42:].any(), "mass on the lawn at the bottom"
    assert walked.sum() >= 80, "too few cells: people were not followed along the walkway"
    mass = heat / heat.sum()
    assert mass[12:36].sum() > 0.95
    assert mass[:, :32].sum() > 0.1 and mass[:, 32:].sum() > 0.1  # both halves of the walk
    assert np.count_nonzero(walked.any(axis=1)) >= 15  # the band spans many rows
