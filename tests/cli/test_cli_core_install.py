"""The core install leaves TrackEval (and the GUI OpenCV its metadata asks for) out: `vigil
run` never needs it, and `vigil eval` without it says in one line how to get it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import Vigil, assert_one_line_error, env_changes

GT_ROW = "1,1,10,10,20,40,1,-1,-1,-1\n"


@pytest.fixture
def without_trackeval(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import trackeval` fails in this process, as in a core install (None in sys.modules
    is Python's own way to make an import raise ImportError)."""
    monkeypatch.setitem(sys.modules, "trackeval", None)


@pytest.mark.usefixtures("without_trackeval")
@pytest.mark.parametrize("how", [["--mot", "tracks.txt"], ["--source", "clip.mp4"]])
def test_eval_without_trackeval_says_how_to_install_it(vigil: Vigil, tmp_path: Path, how):
    (tmp_path / "gt.txt").write_text(GT_ROW)
    (tmp_path / "tracks.txt").write_text(GT_ROW)
    # --source names a clip that does not exist: the missing scorer is reported first, before
    # a run that could take minutes
    line = assert_one_line_error(vigil("eval", "gt.txt", *how), "vigil eval needs TrackEval")
    assert line.endswith(
        "pip install --no-deps 'trackeval>=1.3' 'pycocotools>=2.0.10' 'tabulate>=0.9'"
    )


def test_run_imports_neither_trackeval_nor_gui_libraries(
    tmp_path: Path, tiny_models: Path, synthetic_clip: Path
):
    """`vigil run`, end to end in a fresh interpreter where TrackEval cannot be imported,
    imports no plotting or GUI library either."""
    script = (
        "import sys\n"
        "sys.modules['trackeval'] = None\n"
        "from vigil.cli.main import main\n"
        "sys.argv = ['vigil', 'run', sys.argv[1], '--max-frames', '3', '-o', 'out']\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    loaded = {m.split('.')[0] for m, module in sys.modules.items() if module}\n"
        "    print(sorted(loaded & "
        "{'trackeval', 'matplotlib', 'PIL', 'pycocotools', 'tkinter'}))\n"
    )
    env = {k: v for k, v in env_changes(tmp_path, tiny_models).items() if v is not None}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(synthetic_clip)],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout
    assert (tmp_path / "out" / "summary.json").is_file()
