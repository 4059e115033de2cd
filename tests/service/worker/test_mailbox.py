"""`FrameMailbox`: the bounded, age-limited queue between a worker's ingest and analysis."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vigil.service.worker.mailbox import FrameMailbox
from vigil.sources.frame import Frame


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frame(index: int) -> Frame:
    return Frame("cam1", index, index / 5, np.zeros((4, 4, 3), np.uint8), 1e9 + index / 5)


def test_a_late_analysis_step_drops_nothing() -> None:
    """Analysis at 5 fps with one step taking 3 periods: the frames that arrived meanwhile
    wait and are all analysed (a one-slot mailbox would have lost two)."""
    clock = Clock()
    box = FrameMailbox(capacity=3, max_age=1.0, clock=clock)
    box.put(frame(0))
    assert box.get(0).index == 0  # analysed; this step overruns by 3 periods
    for i in (1, 2, 3):
        clock.now += 0.2
        box.put(frame(i))
    assert [box.get(0).index for _ in range(3)] == [1, 2, 3]
    assert box.dropped == 0 and len(box) == 0


def test_full_mailbox_drops_the_oldest() -> None:
    box = FrameMailbox(capacity=2, clock=Clock())
    for i in range(5):
        box.put(frame(i))
    assert box.dropped == 3 and len(box) == 2
    assert [box.get(0).index, box.get(0).index] == [3, 4]
    assert box.get(0) is None


def test_frames_that_waited_too_long_are_dropped() -> None:
    clock = Clock()
    box = FrameMailbox(capacity=3, max_age=1.0, clock=clock)
    box.put(frame(0))
    box.put(frame(1))
    clock.now += 0.7
    box.put(frame(2))
    clock.now += 0.5  # frames 0 and 1 waited 1.2 s, frame 2 0.5 s
    assert box.get(0).index == 2
    assert box.dropped == 2
    clock.now += 1.5
    box.put(frame(3))
    clock.now += 1.01
    assert box.get(0) is None and box.dropped == 3  # only stale frames: nothing to analyse


def test_get_waits_for_a_frame_from_another_thread() -> None:
    box = FrameMailbox()
    threading.Timer(0.05, box.put, args=(frame(7),)).start()
    started = time.monotonic()
    got = box.get(timeout=5)
    assert got is not None and got.index == 7
    assert time.monotonic() - started < 2


def test_wake_releases_a_waiting_get() -> None:
    box = FrameMailbox()
    threading.Timer(0.05, box.wake).start()
    started = time.monotonic()
    assert box.get(timeout=5) is None
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(("capacity", "max_age"), [(0, 1.0), (3, 0.0)])
def test_bad_settings(capacity: int, max_age: float) -> None:
    with pytest.raises(ValueError):
        FrameMailbox(capacity, max_age)
