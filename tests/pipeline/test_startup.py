"""What `vigil run` loads at start: neither the web framework nor SciPy's optimisers (the
tracker's assignment solver is lapx) nor, once a fixed-shape model's patch is kept, the `onnx`
package; and without apps (no zones), neither the app registry's JSON Schema validator nor
shapely (each costs from a tenth of a second to a second or more on a small CPU). The events
database (SQLAlchemy, Alembic) is always opened: it keeps every track's summary."""

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
    heavy = {"fastapi", "onnx", "scipy.optimize", "jsonschema", "shapely"}
    print("loaded:", sorted(heavy & set(sys.modules)), file=sys.stderr)
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


def test_run_without_apps_loads_none_of_the_heavy_packages(
    walker_clip, tiny_models, tmp_path
) -> None:
    first = loaded_by_run(walker_clip.path, tmp_path, tiny_models)
    assert first == "loaded: ['onnx']"  # the first start patches the model
    assert loaded_by_run(walker_clip.path, tmp_path, tiny_models) == "loaded: []"
    assert (tmp_path / "out" / "events.db").exists()  # the tracks' summaries
