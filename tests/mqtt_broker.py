"""A real mosquitto broker for the tests (pytest plugin, registered in tests/conftest.py).

`mqtt_broker` starts ``mosquitto`` (Debian package ``mosquitto``) on 127.0.0.1 with a
throw-away config: one listener on a free port, anonymous clients, no persistence,
TCP_NODELAY. The test
can stop and restart it on the same port. Tests using it are skipped when the binary is absent.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in MOSQUITTO_PATHS if Path(p).is_file()), None)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MosquittoBroker:
    """A mosquitto process; `host` and `port` stay the same across `stop()` / `start()`."""

    def __init__(self, binary: str, directory: Path, host: str = "127.0.0.1"):
        self.binary = binary
        self.host = host
        self.port = free_port(host)
        self.directory = directory
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        self.config.write_text(
            f"listener {self.port} {host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            # Nagle's algorithm on the broker's sockets holds a message up to a delayed-ACK
            # period (~40 ms) behind the previous one; deployments that care about event
            # latency should set this too.
            "set_tcp_nodelay true\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        assert self.process is None, "already running"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited:\n{self.log.read_text()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto not listening after {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A running mosquitto on 127.0.0.1 (`.host`, `.port`, `.stop()`, `.start()`,
    `.restart()`); skips the test when mosquitto is not installed."""
    binary = find_mosquitto()
    if binary is None:
        pytest.skip("mosquitto is not installed (Debian package `mosquitto`)")
    broker = MosquittoBroker(binary, tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
