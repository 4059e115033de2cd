"""Fixtures of the CLI tests (helpers live in cli_helpers.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest
from cli_helpers import Result, Vigil, invoke_vigil, run_vigil


@pytest.fixture
def vigil(tmp_path: Path, tiny_models: Path) -> Vigil:
    """``vigil(*args, models=..., env=...)``: the CLI in this process (fast), working in
    `tmp_path` with VIGIL_MODELS at the tiny test detector (or `models`), HOME and the model
    cache in `tmp_path`."""

    def call(
        *args: str | os.PathLike[str],
        models: Path | str = tiny_models,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        return invoke_vigil(*args, cwd=tmp_path, models=models, env=env)

    return call


@pytest.fixture
def vigil_process(tmp_path: Path, tiny_models: Path) -> Vigil:
    """Like `vigil`, but the real command in a subprocess with no stdin (~2 s a call): for
    inputs that reach C libraries, which may write to file descriptor 2 directly."""

    def call(
        *args: str | os.PathLike[str],
        models: Path | str = tiny_models,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        return run_vigil(*args, cwd=tmp_path, models=models, env=env)

    return call
