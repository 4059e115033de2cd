"""A bounded coverage-guided fuzz of the sandbox reply decoder: 0 crashes (see fuzz_reply.py)."""

from __future__ import annotations

import json
from pathlib import Path

from fuzzing import run_harness

HERE = Path(__file__).parent
EVENT = {"type": "tick", "start_time": 1.5, "frame_index": 3, "state": "start", "id": "a"}
SEEDS = [
    b"R",
    b'X{"error":"bad settings"}',
    b"O" + json.dumps({"seq": 1, "events": [EVENT], "counters": {"n": 1}, "error": None}).encode(),
    b"O"
    + json.dumps({"seq": 1, "events": [{**EVENT, "attributes": {"k": [1, {"x": 2}]}}]}).encode(),
    b'O{"seq":' + b"9" * 5000 + b"}",  # an integer too long to convert
    b"O" + b"[" * 30000,  # too deep to parse
    b'O{"seq":1,"events":[{"type":"tick","start_time":NaN,"frame_index":0}]}',
]


def test_reply_decoder_survives_fuzzing(tmp_path: Path) -> None:
    output = run_harness(HERE / "fuzz_reply.py", tmp_path / "corpus", SEEDS, runs=200_000)
    assert "Done 200000 runs" in output
