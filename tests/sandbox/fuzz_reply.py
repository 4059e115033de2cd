"""Fuzz harness of the sandbox reply decoder (run by test_fuzz_reply.py, see tests/fuzzing.py).

Whatever bytes a sandbox sends, the parent either gets a `Reply` whose events pass the app
boundary or are rejected there, or a `ProtocolError`; nothing else may escape."""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/, for fuzzing.py
import contextlib

from fuzzing import fuzz_main  # noqa: E402

with atheris.instrument_imports(include=["vigil"]):  # our code, not numpy or pydantic
    from vigil.apps.base import FrameContext
    from vigil.events.event import storable_event
    from vigil.sandbox import protocol

CTX = FrameContext("cam", 0, 0.0, 640, 480)


def test_one_input(data: bytes) -> None:
    try:
        reply = protocol.decode_reply(data)
    except protocol.ProtocolError:
        return
    events, _ = protocol.parse_events(reply.events, "app", "cam", frozenset({"tick", "spam"}))
    for event in events:
        with contextlib.suppress(ValueError):
            storable_event(event)


if __name__ == "__main__":
    fuzz_main(test_one_input)
