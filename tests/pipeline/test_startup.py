"""What `vigil run` loads at start: neither the web framework nor SciPy's optimisers (the
tracker's assignment solver is lapx) nor, once a fixed-shape model's patch is kept, the `onnx`
package, nor, once the events database is at the newest revision, Alembic (each costs a
second or more on a small CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# `vigil run` in this interpreter, then the heavy packages it had loaded.
RUN_THEN_REPORT = """
import sys
from vigil.cli.main import main
sys.argv = ["vigil", "run", *sys.argv[1:]]
try:
    main()
finally:
    print("loaded:", sorted({"fastapi", "onnx", "alembic", "scipy.optimize"} & set(sys.modules)), file=sys.stderr)
"""


def loaded_by_run(clip: Path, work: Path, models: Path) -> str:
    env = dict(os.environ, VIGIL_MODELS=str(models), XDG_CACHE_HOME=str(work / "cache"))
    proc = subprocess.run(
        [sys.executable, "-c", RUN_THEN_REPORT, str(clip), "-o", str(work / "out")]
        + ["--max-frames", "2", "--no-video"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stderr.strip().splitlines()[-1]


def test_run_starts_without_web_framework_scipy_optimize_onnx_or_alembic(
    walker_clip, tiny_models, tmp_path
) -> None:
    first = loaded_by_run(walker_clip.path, tmp_path, tiny_models)
    # The first start patches the model and creates the events database.
    assert first == "loaded: ['alembic', 'onnx']"
    assert loaded_by_run(walker_clip.path, tmp_path, tiny_models) == "loaded: []"
