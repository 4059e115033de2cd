"""prefetch: background production with order, errors and early close."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from vigil.pipeline.prefetch import prefetch


def new_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and t.is_alive()]


def wait_gone(threads: list[threading.Thread], timeout: float = 3.0) -> list[threading.Thread]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.01)
    return [t for t in threads if t.is_alive()]


def test_order_is_preserved():
    assert list(prefetch(range(500), depth=3)) == list(range(500))


def test_an_empty_iterable_yields_nothing():
    assert list(prefetch([])) == []


def test_items_are_produced_in_a_named_daemon_thread():
    seen = []

    def source():
        seen.append(threading.current_thread())
        yield 1

    assert list(prefetch(source())) == [1]
    assert seen[0] is not threading.main_thread()
    assert seen[0].name == "vigil-decode" and seen[0].daemon


def test_the_producer_finishes_after_a_full_run():
    before = set(threading.enumerate())
    assert list(prefetch(range(20), depth=2)) == list(range(20))
    assert wait_gone(new_threads(before)) == []


def test_an_exception_in_the_producer_is_re_raised_in_the_consumer():
    def source():
        yield 1
        yield 2
        raise ValueError("boom at item 3")

    items = prefetch(source())
    assert next(items) == 1
    assert next(items) == 2
    with pytest.raises(ValueError, match="boom at item 3"):
        next(items)


def test_an_exception_before_the_first_item_is_re_raised():
    def source():
        raise FileNotFoundError("no such clip")
        yield  # pragma: no cover

    with pytest.raises(FileNotFoundError, match="no such clip"):
        next(prefetch(source()))


def test_the_producer_runs_at_most_depth_items_ahead():
    produced = []

    def source():
        for i in itertools.count():
            produced.append(i)
            yield i

    gen = prefetch(source(), depth=3)
    assert next(gen) == 0
    time.sleep(0.3)
    # one consumed, three queued, one held by the producer waiting for room
    assert len(produced) <= 1 + 3 + 1
    gen.close()


def test_closing_the_consumer_early_stops_the_producer_thread():
    before = set(threading.enumerate())
    produced = []

    def source():
        for i in itertools.count():
            produced.append(i)
            yield i

    gen = prefetch(source(), depth=2)
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    workers = new_threads(before)
    assert len(workers) == 1
    gen.close()
    assert wait_gone(workers) == []
    count = len(produced)
    time.sleep(0.2)
    assert len(produced) == count  # nothing is produced after the close


def test_breaking_out_of_a_for_loop_stops_the_producer_thread():
    before = set(threading.enumerate())
    gen = prefetch(itertools.count(), depth=2)
    for item in gen:
        if item == 5:
            break
    workers = new_threads(before)
    gen.close()
    assert wait_gone(workers) == []


def test_closing_early_after_the_source_is_exhausted_stops_the_producer_thread():
    before = set(threading.enumerate())
    exhausted = threading.Event()

    def source():
        yield from range(5)
        exhausted.set()

    gen = prefetch(source(), depth=4)
    assert next(gen) == 0
    assert exhausted.wait(2.0)  # items 1..4 fill the queue; the producer now waits with _DONE
    time.sleep(0.05)
    workers = new_threads(before)
    started = time.monotonic()
    gen.close()
    closing = time.monotonic() - started
    alive = wait_gone(workers, timeout=0.5)
    assert alive == [] and closing < 0.5
