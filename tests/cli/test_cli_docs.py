"""What the documentation shows users really works: examples/site.yaml, the README's YAML
example, and the README's command examples (its ```sh blocks, run for real in order, except
those marked ``<!-- doc-test: skip: REASON -->``, each listed here on purpose)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_helpers import Vigil, env_changes

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


# ---------------------------------------------------------------- the README's commands

SKIP = re.compile(r"<!-- doc-test: skip: (.+?) -->")
# The documents whose sh blocks run, the blocks not run, each for a reason (a new one must be
# added here on purpose: first command of the block -> why), and a file their commands make.
DOCUMENTS = {
    "README.md": {
        "./scripts/quickstart.sh": "sets a machine up",
        "vigil run rtsp://cam.local/stream1 -c site.yaml --no-video": "needs a real camera",
        "vigil serve -c examples/serve.yaml": "runs until stopped",
        "vigil models pull yolox-nano": "downloads from the internet",
        "pip install 'vigil[cluster]'": "needs a Ray cluster and PostgreSQL",
    },
    "docs/apps.md": {},
}
PRODUCTS = {
    "README.md": "my_app/dist/vigil_my_app-0.1.0-py3-none-any.whl",
    "docs/apps.md": "queue_length/dist/vigil_queue_length-0.1.0-py3-none-any.whl",
}
# The README sets the shell up itself; the other documents start where it leaves off.
README_SETUP = "source .venv/bin/activate\nexport VIGIL_MODELS=$PWD/../shared/models\n"
# What the examples take as given beside the checkout: a site with camera `gate` and
# zone `door`, a password file and MOTChallenge ground truth.
SITE_YAML = """\
cameras:
  - id: gate
    url: data/vtest.avi
    zones:
      door: {points: [[0.1, 0.4], [0.9, 0.4], [0.9, 1.0], [0.1, 1.0]]}
storage: {directory: site-data}
"""
PASSWORD = "a long enough password"


@dataclass(frozen=True)
class ShBlock:
    line: int  # of the opening fence, 1-based
    code: str
    skip: str | None  # the marker's reason, None: run it

    @property
    def first_command(self) -> str:
        return self.code.splitlines()[0].split("  #")[0].strip()


def sh_blocks(path: Path) -> list[ShBlock]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            end = lines.index("```", i + 1)
            marker = SKIP.fullmatch(lines[i - 1].strip()) if i else None
            code = "\n".join(lines[i + 1 : end]) + "\n"
            blocks.append(ShBlock(i + 1, code, marker[1] if marker else None))
            i = end
        i += 1
    return blocks


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_skipped_block_is_deliberate(document: str):
    blocks = sh_blocks(REPO / document)
    skipped = {b.first_command: b.skip for b in blocks if b.skip is not None}
    assert skipped.keys() == DOCUMENTS[document].keys()
    for command, reason in skipped.items():
        assert reason.startswith(DOCUMENTS[document][command]), (command, reason)
    assert len(blocks) - len(skipped) >= 4


@pytest.fixture
def checkout(tmp_path: Path, tiny_models: Path, synthetic_clip: Path) -> Path:
    """A checkout as the documented commands expect it after the Quickstart: .venv (this test's
    environment), examples/, data/vtest.avi (the synthetic clip), ../shared/models (the tiny
    detector as yolox_nano.onnx), plus the site file, password and ground truth it assumes."""
    venv = Path(sys.prefix)
    if not (venv / "bin" / "activate").is_file():
        pytest.skip("the documented commands run from a virtual environment")
    root = tmp_path / "checkout"
    (root / "data").mkdir(parents=True)
    (root / ".venv").symlink_to(venv)
    (root / "examples").symlink_to(REPO / "examples")
    shutil.copy(synthetic_clip, root / "data" / "vtest.avi")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "models").symlink_to(tiny_models)
    (root / "site.yaml").write_text(SITE_YAML)
    (root / "pw.txt").write_text(PASSWORD + "\n")
    (root / "gt.txt").write_text("1,1,10,10,20,40,1,-1,-1,-1\n2,1,12,10,20,40,1,-1,-1,-1\n")
    return root


@pytest.mark.parametrize("document", DOCUMENTS)
def test_documented_commands_run(document: str, checkout: Path):
    """Every runnable sh block of the document, in order, in one checkout (later blocks use
    what earlier ones made), with `set -e`; prompts get the password twice on stdin."""
    blocks = sh_blocks(REPO / document)
    env = {
        key: value
        for key, value in env_changes(checkout.parent, "unset-by-the-readme").items()
        if value is not None
    }
    # not this venv on PATH, nor VIGIL_MODELS: the README's commands set them up
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(sys.prefix)]
    env = {**os.environ, **env, "PATH": os.pathsep.join(path)}
    env.pop("VIGIL_MODELS")
    env.pop("VIRTUAL_ENV", None)
    script = "" if document == "README.md" else README_SETUP
    for block in blocks:
        if block.skip is None:
            script += f'echo "--- {document} line {block.line} ($SECONDS s)"\n{block.code}'
    proc = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=checkout,
        env=env,
        input=f"{PASSWORD}\n{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    assert proc.stdout.count(f"--- {document} line") == sum(b.skip is None for b in blocks)
    assert (checkout / PRODUCTS[document]).is_file()
