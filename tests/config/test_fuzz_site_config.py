"""A bounded coverage-guided fuzz of the site-file loader: 0 crashes (see fuzz_site_config.py)."""

from __future__ import annotations

from pathlib import Path

import vigil
from fuzzing import run_harness

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SEEDS = [
    (ROOT / "examples" / "site.yaml").read_bytes(),
    (Path(vigil.__file__).parent / "service" / "demo_site.yaml").read_bytes(),
    b"cameras:\n  - id: door\n    url: rtsp://u:${PASS}@cam/1\n    zones:\n"
    b"      a: &z {points: [[0, 0], [1, 0], [1, 1]]}\n      b: *z\n"
    b"    lines: {in: {start: [0, 0], end: [1, 1]}}\n"
    b"    apps: [{type: occupancy, name: o, settings: {zone: a}}]\n",
    b'a: &a ["x", "x"]\nb: &b [*a, *a]\nc: [*b, *b]\n',  # aliases of aliases
    b"cameras: [" * 80,  # deep
    b'cameras:\n  - {id: "\\ud800", url: x}\n',
]


def test_site_loader_survives_fuzzing(tmp_path: Path) -> None:
    output = run_harness(
        HERE / "fuzz_site_config.py", tmp_path / "corpus", SEEDS, runs=20_000, timeout_s=600
    )
    assert "Done 20000 runs" in output
