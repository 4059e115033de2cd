"""The supervisor as the API's site control: waiting for a worker's answer to a scene change."""

from __future__ import annotations

import threading
import time

from vigil.config.site import SiteConfig
from vigil.service.messages import Reconfigured
from vigil.service.supervisor import Supervisor


def test_await_reconfigured_returns_the_answer_to_that_generation_or_a_later_one():
    supervisor = Supervisor(SiteConfig.model_validate({"cameras": [{"id": "a", "url": "a.mp4"}]}))
    assert supervisor.await_reconfigured("a", 1, timeout=0.05) is None
    supervisor._answered(Reconfigured("a", 1, time.time()))
    assert supervisor.await_reconfigured("a", 2, timeout=0.05) is None  # an older answer
    later = Reconfigured("a", 3, time.time(), error="bad zone")
    threading.Timer(0.1, supervisor._answered, args=(later,)).start()
    started = time.monotonic()
    assert supervisor.await_reconfigured("a", 2, timeout=5) == later
    assert time.monotonic() - started < 2  # woken by the answer, not by the timeout
