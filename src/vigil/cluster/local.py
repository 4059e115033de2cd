"""A Ray cluster of several nodes on this machine: the demo of a multi-node site, and its tests.

Each node is a ``ray start --block`` process in a session of its own (``start_new_session``):
the raylet, the GCS (head only), the agents and every worker it starts share that session, so
`kill_node` (a machine gone: SIGKILL) and `stop` find them all, even those whose parent died
first. Nodes are started with ``--node-ip-address 127.0.0.1`` and free ports, but Ray turns a
loopback address into the host's own (``ray._private.services.resolve_ip_for_localhost``) and
its GCS and raylets listen on every interface: only inside a network namespace that has
nothing but loopback (``unshare --net``, as tests/cluster/conftest.py runs the tests) is the
cluster 127.0.0.1-only and invisible to the network. Ray's socket paths must stay
under ~107 characters, so each node's Ray temp dir is a short folder under the system temp dir
(removed by `stop`); the ``ray start`` output of each node goes to ``folder/<node>.log``.

A node's Vigil identity travels as Ray node labels (`ray_labels`): ``vigil-node`` (its name),
``vigil-cameras`` (its capacity, when given) and one ``vigil-label-<label>: "true"`` per Vigil
label (Ray label values cannot hold a list); `vigil_labels` reads them back.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from vigil.cluster.nodes import authenticate_to_ray, ray_auth_env, ray_labels
from vigil.cluster.postgres import HOST, free_port
from vigil.errors import VigilError, one_line

HEAD = "head"
#: Ray settings (its GCS health checks) that mark a killed node dead after ~5 s instead of
#: ~17 s with Ray's defaults (a check every 3 s, dead after 5 missed; both measured by
#: benchmarks/cluster_local.py on a 2-core box): for tests of failover.
FAST_DEATH_DETECTION = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}
#: Per node: Ray's default (30% of the memory) times N nodes on one machine is too much.
_OBJECT_STORE_BYTES = 128 * 1024 * 1024


def in_loopback_namespace() -> bool:
    """True where loopback is the only network interface, and it is up."""
    interfaces = psutil.net_if_stats()
    return list(interfaces) == ["lo"] and interfaces["lo"].isup


def loopback_namespace_command(command: Sequence[str]) -> list[str]:
    """`command` run inside a new network namespace with only loopback, up (root needs
    nothing more; another user gets a user namespace in which it is root)."""
    unshare = (
        ["unshare", "--net"]
        if os.geteuid() == 0
        else ["unshare", "--user", "--map-root-user", "--net"]
    )
    return [*unshare, "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command]


def _session(sid: int) -> list[psutil.Process]:
    """The live processes of session `sid` (zombies count as gone: only their reaping is left)."""
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getsid(process.pid) == sid and process.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (ProcessLookupError, PermissionError):
            continue
    return members


def _kill_session(sid: int, timeout: float) -> None:
    """SIGKILL every process of session `sid`; VigilError if one outlives `timeout`."""
    deadline = time.monotonic() + timeout
    while members := _session(sid):
        for process in members:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        if time.monotonic() > deadline:
            raise VigilError(f"Ray processes {[p.pid for p in members]} survived SIGKILL")
        psutil.wait_procs(members, timeout=0.5)


@dataclass
class _Node:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    temp_dir: Path  # its sockets live there: tells this launch from an earlier one of the name

    @property
    def sid(self) -> int:  # `ray start` leads its own session
        return self.process.pid


class LocalRayCluster:
    """`nodes` Ray nodes on this machine: ``head``, ``node-2``, ``node-3``, ...

    `start()` returns once every node is alive in the cluster; `add_node` adds one more (also
    one that `kill_node` took away, under the same name). Not thread-safe.
    """

    def __init__(
        self,
        nodes: int,
        folder: Path,
        cpus_per_node: float,
        cameras_per_node: int | None = None,
        *,
        object_store_bytes: int = _OBJECT_STORE_BYTES,
        timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if nodes < 1:
            raise VigilError(f"a local Ray cluster needs at least 1 node, not {nodes}")
        self.initial_nodes = nodes
        self.folder = Path(folder).absolute()
        self.cpus_per_node = cpus_per_node
        self.cameras_per_node = cameras_per_node
        self.object_store_bytes = object_store_bytes
        self.timeout = timeout
        #: Added to every node's environment: Ray's settings, e.g. `FAST_DEATH_DETECTION`.
        self.env = dict(env or {})
        self.address = ""
        self.token_file = self.folder / "auth_token"  # made by `start`
        self._nodes: dict[str, _Node] = {}
        #: The short folder holding the nodes' Ray temp dirs (their sockets, Ray's own logs)
        #: while the cluster runs; removed by `stop`.
        self.ray_temp_dir: Path | None = None
        self._launches = 0
        self._state: Any = None  # ray._private.state.GlobalState, once the head is up

    def start(self) -> str:
        """Start the nodes; returns the cluster's address (``127.0.0.1:PORT``) for ``ray.init``.

        The cluster accepts only clients holding its token (`token_file`): this process is
        made one (`authenticate_to_ray`), so ``ray.init(address)`` here connects."""
        if self.address:
            raise VigilError(f"the local Ray cluster is already running at {self.address}")
        if importlib.util.find_spec("ray") is None:
            raise VigilError("Ray is not installed: pip install 'vigil[cluster]'")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.token_file = self._token()
        # This process reads the node table (and may be the driver): it authenticates too.
        authenticate_to_ray(self.token_file)
        self.ray_temp_dir = Path(tempfile.mkdtemp(prefix="vigil-ray-"))
        port = free_port()
        try:
            self._launch(HEAD, self.cpus_per_node, self.cameras_per_node, (), head_port=port)
            self._wait_for_gcs(port)
            self.address = f"{HOST}:{port}"
            names = [f"node-{i}" for i in range(2, self.initial_nodes + 1)]
            for name in names:  # concurrently: each has its own temp dir, so no socket races
                self._launch(name, self.cpus_per_node, self.cameras_per_node, ())
            self._wait_alive([HEAD, *names])
        except BaseException:
            self.stop()
            raise
        return self.address

    def add_node(
        self, name: str, cpus: float, cameras: int | None = None, labels: Sequence[str] = ()
    ) -> None:
        """Start one more node `name` and wait until it is alive in the cluster."""
        if not self.address:
            raise VigilError("start the local Ray cluster before adding nodes")
        if name in self._nodes:
            raise VigilError(f"node {name!r} is already running")
        self._launch(name, cpus, cameras, labels)
        try:
            self._wait_alive([name])
        except BaseException:
            self._remove(name)
            raise

    def kill_node(self, name: str) -> None:
        """SIGKILL every process of node `name` at once (a machine gone); returns when they
        are gone. Killing ``head`` takes the GCS, hence the whole cluster, with it."""
        self._node(name)
        self._remove(name)

    def _remove(self, name: str) -> None:
        node = self._nodes.pop(name)
        _kill_session(node.sid, self.timeout)
        node.process.wait()

    def pids(self, name: str) -> list[int]:
        """The processes of node `name`: ``ray start``, raylet, agents, workers (GCS on the head)."""
        return sorted(process.pid for process in _session(self._node(name).sid))

    def node_names(self) -> list[str]:
        """The nodes started and not killed, in start order."""
        return list(self._nodes)

    def stop(self, grace: float = 10.0) -> None:
        """Stop every node (``ray start`` stops its own processes on SIGTERM; what is left
        after `grace` seconds is killed); returns when none of their processes is left."""
        nodes = sorted(self._nodes.values(), key=lambda node: node.name == HEAD)  # head last
        for node in nodes:
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for node in nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(max(0.0, deadline - time.monotonic()))
        for node in nodes:
            _kill_session(node.sid, self.timeout)
            node.process.wait()
        self._nodes.clear()
        self.address = ""
        self._state = None
        if self.ray_temp_dir is not None:
            shutil.rmtree(self.ray_temp_dir, ignore_errors=True)
            self.ray_temp_dir = None

    def _node(self, name: str) -> _Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise VigilError(
                f"no running node {name!r} (running: {', '.join(self._nodes)})"
            ) from None

    def _token(self) -> Path:
        """The cluster's token (Ray's token authentication: every node and driver shows it),
        made once in the folder, readable by its owner only."""
        path = self.folder / "auth_token"
        if not path.is_file():
            partial = path.with_suffix(".part")
            partial.write_text(secrets.token_hex(32))
            partial.chmod(0o600)
            partial.replace(path)
        return path

    def _launch(
        self,
        name: str,
        cpus: float,
        cameras: int | None,
        labels: Iterable[str],
        head_port: int | None = None,
    ) -> None:
        assert self.ray_temp_dir is not None
        node_labels = ray_labels(name, cameras, labels)
        self._launches += 1
        temp_dir = self.ray_temp_dir / str(self._launches)  # short: socket paths are limited
        role = (
            ["--head", f"--port={head_port}", "--include-dashboard=false"]
            if head_port is not None
            else [f"--address={self.address}"]
        )
        command = [
            sys.executable, "-m", "ray.scripts.scripts", "start", "--block", *role,
            f"--node-ip-address={HOST}", f"--num-cpus={cpus:g}",
            f"--labels={','.join(f'{k}={v}' for k, v in node_labels.items())}",
            f"--temp-dir={temp_dir}", f"--object-store-memory={self.object_store_bytes}",
            f"--dashboard-agent-listen-port={free_port()}", "--min-worker-port=0",
            "--max-worker-port=0", "--disable-usage-stats",
        ]  # fmt: skip
        log = self.folder / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **ray_auth_env(self.token_file), **self.env},
                start_new_session=True,
            )  # fmt: skip
        self._nodes[name] = _Node(name, process, log, temp_dir)

    def _check_running(self, names: Iterable[str]) -> None:
        for name in names:
            node = self._nodes[name]
            if node.process.poll() is not None:
                tail = node.log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
                raise VigilError(
                    f"Ray node {name!r} exited with code {node.process.returncode}: "
                    f"{one_line(tail[0])} (see {node.log})"
                )

    def _wait_for_gcs(self, port: int) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            self._check_running([HEAD])
            try:
                with socket.create_connection((HOST, port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise VigilError(
                        f"Ray's GCS not listening on {HOST}:{port} after {self.timeout:g} s"
                    ) from None
                time.sleep(0.05)
        # Ray's own test harness reads the node table this way (ray.cluster_utils), without a
        # driver: the caller may `ray.init` to this cluster from the same process.
        from ray._private.services import _get_gcs_client_options
        from ray._private.state import GlobalState

        self._state = GlobalState()
        self._state._initialize_global_state(_get_gcs_client_options(f"{HOST}:{port}"))

    def _not_alive(self, names: Iterable[str]) -> list[str]:
        """Those of `names` whose current launch the GCS does not list as alive yet."""
        assert self._state is not None, "the head is not running"
        alive = [Path(n["ObjectStoreSocketName"]) for n in self._state.node_table() if n["Alive"]]
        return [
            name
            for name in names
            if not any(path.is_relative_to(self._nodes[name].temp_dir) for path in alive)
        ]

    def _wait_alive(self, names: Sequence[str]) -> None:
        deadline = time.monotonic() + self.timeout
        while missing := self._not_alive(names):
            self._check_running(names)
            if time.monotonic() > deadline:
                raise VigilError(f"Ray nodes {missing} not alive after {self.timeout:g} s")
            time.sleep(0.1)
