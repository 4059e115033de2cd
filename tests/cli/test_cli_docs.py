"""The configurations shown to users really work: examples/site.yaml and the README's example."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from cli_helpers import Vigil

REPO = Path(__file__).resolve().parents[2]


def readme_yaml() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert blocks, "README.md has no yaml example"
    return blocks[0]


@pytest.mark.parametrize("name", ["examples/site.yaml", "README.md"])
def test_documented_config_runs(name: str, vigil: Vigil, tmp_path: Path, synthetic_clip: Path):
    text = (REPO / name).read_text(encoding="utf-8") if name.endswith(".yaml") else readme_yaml()
    (tmp_path / "site.yaml").write_text(text, encoding="utf-8")
    shutil.copy(synthetic_clip, tmp_path / "clip.mp4")
    result = vigil(
        "run", "clip.mp4", "-c", "site.yaml", "--max-frames", "3", "--no-video", "-o", "out"
    )
    assert result.returncode == 0, result
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == 3
    assert len(summary["counters"]) == 6  # one entry per configured app
