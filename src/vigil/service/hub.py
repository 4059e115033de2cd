"""Fan-out of worker messages inside the supervisor process.

The supervisor publishes every message it receives from camera workers; consumers (the API's
WebSocket, the MQTT publisher, the metrics) each hold a `Subscription`: a bounded queue that
drops its oldest message when a consumer falls behind, so a slow client never stalls the
supervisor or the other consumers. Publishing is thread-safe; subscriptions can be read from
a thread (`get`) or from asyncio (`aget`).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterable

from vigil.service.messages import WorkerMessage


class Subscription:
    def __init__(self, hub: Hub, kinds: tuple[type, ...] | None, maxsize: int):
        self._hub = hub
        self.kinds = kinds
        self._queue: queue.Queue[WorkerMessage] = queue.Queue(maxsize=maxsize)
        self.dropped = 0

    def offer(self, message: WorkerMessage) -> None:
        if self.kinds is not None and not isinstance(message, self.kinds):
            return
        while True:
            try:
                self._queue.put_nowait(message)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout: float | None = None) -> WorkerMessage | None:
        """The next message, or None after `timeout` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    async def aget(self, timeout: float = 1.0) -> WorkerMessage | None:
        """The next message without blocking the event loop, or None after `timeout`."""
        return await asyncio.to_thread(self.get, timeout)

    def close(self) -> None:
        self._hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []

    def subscribe(self, kinds: Iterable[type] | None = None, maxsize: int = 1000) -> Subscription:
        """Receive messages of `kinds` (all when None) published from now on."""
        sub = Subscription(self, tuple(kinds) if kinds is not None else None, maxsize)
        with self._lock:
            self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscriptions:
                self._subscriptions.remove(sub)

    def publish(self, message: WorkerMessage) -> None:
        with self._lock:
            subscribers = list(self._subscriptions)
        for sub in subscribers:
            sub.offer(message)
