"""The head of a cluster site: where its cameras run, decided and followed.

`vigil serve` with a ``cluster:`` section runs the same `Supervisor` as on a single box (site
file, API, MQTT, metrics, live changes), with `ClusterCameras` in place of this machine's
worker processes. It connects to the Ray cluster as a driver and, once a second:
- reads the Ray nodes (`vigil.cluster.nodes`) and starts a `NodeAgent` actor pinned to each
  live node; drops the agents of nodes that died, and those silent longer than a lease;
- places the enabled cameras on the nodes that have a ready agent (`assign`: capacity, pins,
  labels; cameras stay where they are unless their node is gone, or a node joined and
  rebalancing moves a fair share onto it);
- grants each placed camera a lease (a new epoch, `LeaseStore.grant`) and tells the node's
  agent to run it under that epoch. A camera moved off a live node is stopped there first
  (its last segment indexed), then started on the new node.

The agents write events and segments themselves, fenced by the epoch; the head drains
everything else they say (status, live frames, stored events for WebSocket and MQTT) into the
supervisor's inbox, so the API, metrics and MQTT are those of the single box. Ray's head
(its GCS) is a single point of failure: Vigil does not run it with Redis-backed fault
tolerance (no Redis in its stack), so a lost Ray head stops the cluster site until it and
`vigil serve` are started again; a restarted `vigil serve` (the driver) takes the cameras
over with new epochs, and the leases keep any node still running an old one from writing.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vigil.cluster.agent import AgentReport, LeaseLost, NodeAgent
from vigil.cluster.assignment import Assignment, assign, check_placement
from vigil.cluster.leases import LeaseStore
from vigil.cluster.nodes import RayNode, authenticate_to_ray, camera_demands, read_nodes
from vigil.cluster.views import AssignmentView, MoveView, NodeUnavailable, NodeView
from vigil.config.site import CameraConfig, ClusterSettings, SiteConfig
from vigil.db.database import Database
from vigil.errors import VigilError
from vigil.service.messages import CameraStatus, WorkerMessage
from vigil.service.pool import RestoreStates

log = logging.getLogger("vigil.cluster")

RECONCILE_EVERY_S = 1.0
REPORT_EVERY_S = 3.0
AGENT_START_S = 120.0  # an agent loads its model and starts its detector in this time
AGENT_RETRY_S = 30.0  # a node whose agent failed or died gets a new one after this
STOP_WAIT_S = 20.0  # a camera moved off a live node: how long its stop there may take
CALL_TIMEOUT_S = 10.0
MOVES_KEPT = 200
PASSED_ENV = ("VIGIL_MODELS",)


@dataclass
class _Agent:
    node: RayNode
    actor: Any  # the Ray actor handle of its NodeAgent
    ready_ref: Any = None  # the first report: the agent is up once it comes
    ready: bool = False
    dead: str | None = None  # why it is gone
    heard: float = field(default_factory=time.monotonic)
    report: AgentReport | None = None
    drain: threading.Thread | None = None


class ClusterCameras:
    """A site's cameras on the nodes of a Ray cluster (`vigil.service.cameras.CameraRunner`),
    and the API's view of that cluster (`vigil.api.cluster.ClusterControl`)."""

    stores_messages = False  # each node stores what its cameras report

    def __init__(
        self,
        site: Callable[[], SiteConfig],
        inbox: queue.Queue[WorkerMessage],
        restore: RestoreStates | None = None,  # each node's agent reads the saved states itself
    ):
        self._site = site
        self._inbox = inbox
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._wanted: set[str] = set()  # enabled cameras the supervisor runs
        self._placement: dict[str, str] = {}  # camera -> node it was given to
        self._assigned: dict[str, AssignmentView] = {}
        # A camera that lost its node: which node, and why (for the move that follows).
        self._lost: dict[str, tuple[str, str]] = {}
        self._unplaced_said: dict[str, str] = {}
        self._live: dict[str, bool] = {}  # cameras watched live -> someone watches unmasked
        self._agents: dict[str, _Agent] = {}
        self._retry_at: dict[str, float] = {}  # node -> no new agent there before this time
        self._nodes: list[RayNode] = []
        self._usable: set[str] = set()  # nodes with a ready agent at the last placement
        self._moves: collections.deque[MoveView] = collections.deque(maxlen=MOVES_KEPT)
        self._reconciled = self._reported = 0.0
        self._database: Database | None = None
        self._leases: LeaseStore | None = None

    @property
    def settings(self) -> ClusterSettings:
        settings = self._site().cluster
        assert settings is not None
        return settings

    # -- CameraRunner ----------------------------------------------------------------------------

    def start_up(self) -> None:
        import ray

        connect_ray(self.settings.address, self.settings.token_file)
        self._database = Database(self._site().storage.database_url())
        self._leases = LeaseStore(self._database)
        self._nodes = read_nodes(ray.nodes(), self.settings.cameras_per_cpu)
        check_placement(camera_demands(self._site()), [n.info for n in self._nodes])
        with self._lock:
            self._follow_nodes()
        deadline = time.monotonic() + AGENT_START_S
        while time.monotonic() < deadline:
            with self._lock:
                self._check_ready()
                waiting = [a for a in self._agents.values() if not a.ready and not a.dead]
            if not waiting:
                break
            time.sleep(0.2)
        with self._lock:
            failed = [a.dead for a in self._agents.values() if a.dead]
            if failed and not any(a.ready for a in self._agents.values()):
                raise VigilError(failed[0] or "no node agent started")
        names = ", ".join(f"{a.node.name} ({len(a.node.address) and a.node.address})"
                          for a in self._agents.values() if a.ready)  # fmt: skip
        log.info("cluster at %s: node agents ready on %s", self.settings.address, names or "none")

    def shut_down(self) -> None:
        import ray

        self._closing.set()
        with self._lock:
            agents = list(self._agents.values())
        refs = [a.actor.shutdown.remote() for a in agents if a.ready and not a.dead]
        try:
            ray.get(refs, timeout=30.0)
        except Exception as err:  # a node already gone: nothing of it to stop
            log.warning("stopping the node agents: %s", _short(err))
        for agent in agents:
            ray.kill(agent.actor, no_restart=True)
            if agent.drain is not None:
                agent.drain.join(timeout=5.0)
        ray.shutdown()
        if self._database is not None:
            self._database.close()

    def watch(self) -> None:
        now = time.monotonic()
        if now - self._reconciled < RECONCILE_EVERY_S or self._closing.is_set():
            return
        self._reconciled = now
        import ray

        nodes = read_nodes(ray.nodes(), self.settings.cameras_per_cpu)
        with self._lock:
            self._nodes = nodes
            self._follow_nodes()
            self._check_ready()
            self._place()
        if now - self._reported >= REPORT_EVERY_S:
            self._reported = now
            self._collect_reports()

    def start(self, camera_id: str) -> None:
        with self._lock:
            self._wanted.add(camera_id)
        self._reconciled = 0.0  # place it at the next watch

    def stop(self, camera_id: str, removed: bool) -> None:
        with self._lock:
            node = self._placement.get(camera_id)
            agent = self._agents.get(node) if node is not None else None
            if removed:
                self._wanted.discard(camera_id)
                self._placement.pop(camera_id, None)
                self._assigned.pop(camera_id, None)
                if node is not None:
                    self._moves.append(_move(camera_id, node, None, "removed from the site"))
        if agent is not None and agent.ready:
            agent.actor.stop_camera.remote(camera_id, self._site(), removed)

    def reconfigure(
        self, camera: CameraConfig, rebuild: frozenset[str] = frozenset()
    ) -> int | None:
        import ray

        agent = self._agent_of(camera.id)
        if agent is None:
            return None
        ref = agent.actor.reconfigure.remote(camera.id, self._site(), rebuild)
        try:
            generation: int | None = ray.get(ref, timeout=CALL_TIMEOUT_S)
        except Exception as err:
            log.warning("camera %s: new scene not sent to node %s: %s",
                        camera.id, agent.node.name, _short(err))  # fmt: skip
            return None
        return generation

    def set_live_demand(self, camera_id: str, wanted: bool, unmasked: bool = False) -> None:
        with self._lock:
            if wanted:
                self._live[camera_id] = unmasked
            else:
                self._live.pop(camera_id, None)
        agent = self._agent_of(camera_id)
        if agent is not None:
            agent.actor.set_live_demand.remote(camera_id, wanted, unmasked)

    def heard(self, camera_id: str | None) -> None:
        """Each node's agent watches its own workers."""

    def reading(self) -> bool:
        return any(a.drain is not None and a.drain.is_alive() for a in self._agents.values())

    # -- ClusterControl (the API) ----------------------------------------------------------------

    def cluster_status(self) -> tuple[list[NodeView], dict[str, AssignmentView], list[MoveView]]:
        with self._lock:
            nodes = []
            for node in self._nodes:
                agent = self._agents.get(node.name)
                report = agent.report if agent is not None and agent.ready else None
                cameras = sorted(c for c, n in self._placement.items() if n == node.name)
                capacity = node.info.capacity
                nodes.append(
                    NodeView(
                        id=node.name,
                        alive=node.info.alive and agent is not None and agent.ready,
                        head=node.head,
                        address=node.address,
                        pids=report.pids if report is not None else [],
                        cameras=cameras,
                        capacity=capacity,
                        load=round(len(cameras) / capacity, 3) if capacity else 0.0,
                    )
                )
            return nodes, dict(self._assigned), list(self._moves)

    def local_node(self) -> str | None:
        """The head's own node: its files are on this machine."""
        return next((n.name for n in self._nodes if n.head), None)

    def node_file(self, node: str, path: Path) -> Path:
        """A readable copy of `path` on `node` (cached: recordings do not change)."""
        import ray

        cache = self._site().storage.directory / "cache" / "nodes" / node
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:24]
        copy = cache / f"{digest}{path.suffix}"
        if copy.is_file():
            return copy
        agent = self._agents.get(node)
        if agent is None or not agent.ready or agent.dead:
            raise NodeUnavailable(node)
        try:
            data = ray.get(agent.actor.read_file.remote(str(path)), timeout=60.0)
        except FileNotFoundError:  # the node is up, the file gone (retention): a 404, a skip
            raise
        except Exception as err:
            log.warning("node %s: reading %s failed: %s", node, path, _short(err))
            raise NodeUnavailable(node) from None
        cache.mkdir(parents=True, exist_ok=True)
        partial = copy.with_suffix(copy.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(copy)
        return copy

    # -- following the cluster (under the lock) --------------------------------------------------

    def _follow_nodes(self) -> None:
        """Drop the agents of dead nodes (their cameras are placed again), start agents on
        live nodes that have none."""
        by_name = {n.name: n for n in self._nodes}
        now = time.monotonic()
        for name, agent in list(self._agents.items()):
            node = by_name.get(name)
            why = agent.dead
            if node is None or not node.info.alive or node.ray_id != agent.node.ray_id:
                why = f"node {name} is down"
            elif agent.ready and now - agent.heard > self.settings.lease_seconds:
                why = f"node {name} did not answer for {self.settings.lease_seconds:.0f} s"
            if why is not None:
                self._drop_agent(name, why)
        for node in self._nodes:
            wanted = node.info.alive and node.name not in self._agents
            if wanted and self._retry_at.get(node.name, 0.0) <= now:
                self._agents[node.name] = self._start_agent(node)

    def _start_agent(self, node: RayNode) -> _Agent:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor: Any = (
            ray.remote(NodeAgent)
            .options(
                num_cpus=0,
                max_concurrency=16,
                max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node.ray_id, soft=False),
                runtime_env={"env_vars": _passed_env()},
            )
            .remote(node.name, self._site(), self.settings.lease_seconds)
        )
        log.info("node %s (%s): starting its agent", node.name, node.address)
        return _Agent(node=node, actor=actor, ready_ref=actor.report.remote())

    def _drop_agent(self, name: str, why: str) -> None:
        import ray

        agent = self._agents.pop(name)
        if agent.ready:
            log.warning("%s: its cameras go to other nodes", why)
        else:  # it could not start there: not again at once
            self._retry_at[name] = time.monotonic() + AGENT_RETRY_S
        with contextlib.suppress(Exception):  # already gone with its node
            ray.kill(agent.actor, no_restart=True)
        agent.dead = why
        for camera, node in list(self._placement.items()):
            if node == name:
                del self._placement[camera]
                self._lost[camera] = (name, why)
                # Its worker cannot say so any more: offline until it runs elsewhere.
                self._inbox.put(CameraStatus(camera, "offline", time.time(), error=why))

    def _check_ready(self) -> None:
        import ray

        for agent in self._agents.values():
            if agent.ready or agent.dead:
                continue
            done, _ = ray.wait([agent.ready_ref], timeout=0)
            if not done:
                continue
            try:
                agent.report = ray.get(agent.ready_ref)
                agent.dead = agent.report.failed
            except Exception as err:
                agent.dead = f"node {agent.node.name}: its agent failed to start: {_short(err)}"
            if agent.dead is not None:
                agent.ready = False
                log.error("%s", agent.dead)
                continue
            agent.ready, agent.heard = True, time.monotonic()
            agent.drain = threading.Thread(
                target=self._drain, args=(agent,), name=f"drain-{agent.node.name}", daemon=True
            )
            agent.drain.start()

    def _place(self) -> None:
        nodes = [
            replace(
                n.info, alive=n.info.alive and n.name in self._agents and self._agents[n.name].ready
            )  # fmt: skip
            for n in self._nodes
        ]
        usable = {n.name for n in nodes if n.alive}
        joined = usable - self._usable  # capacity added: rebalance onto it, else move no more
        self._usable = usable  # than the cameras of the nodes lost
        demands = camera_demands(self._site(), self._wanted)
        result = assign(demands, nodes, self._placement, rebalance=bool(joined))
        self._say_unplaced(result)
        for camera, node in sorted(result.placement.items()):
            old = self._placement.get(camera)
            if old != node:
                self._move(camera, old, node)

    def _move(self, camera: str, old: str | None, new: str) -> None:
        import ray

        assert self._leases is not None
        site = self._site()
        if old is not None and old in self._agents:  # rebalanced: stopped there first
            try:
                stopping = self._agents[old].actor.stop_camera.remote(camera, site, True, True)
                ray.get(stopping, timeout=STOP_WAIT_S)
            except Exception as err:
                log.warning("camera %s: stopping it on node %s: %s", camera, old, _short(err))
            why = f"rebalanced onto node {new}"
        else:
            old, why = self._lost.pop(camera, (None, "started"))
        lease = self._leases.grant(camera, new)
        agent = self._agents[new]
        agent.actor.start_camera.remote(camera, lease.epoch, site)
        if camera in self._live:
            agent.actor.set_live_demand.remote(camera, True, self._live[camera])
        self._placement[camera] = new
        self._assigned[camera] = AssignmentView(node=new, epoch=lease.epoch, since=lease.since)
        self._moves.append(_move(camera, old, new, why))
        self._unplaced_said.pop(camera, None)
        log.info("camera %s: runs on node %s (epoch %d): %s", camera, new, lease.epoch, why)

    def _say_unplaced(self, result: Assignment) -> None:
        for camera, why in result.unplaced.items():
            if camera in self._placement:
                del self._placement[camera]
            if self._unplaced_said.get(camera) != why:
                self._unplaced_said[camera] = why
                log.error("camera %s: cannot run anywhere now: %s", camera, why)

    def _agent_of(self, camera: str) -> _Agent | None:
        with self._lock:
            node = self._placement.get(camera)
            agent = self._agents.get(node) if node is not None else None
        return agent if agent is not None and agent.ready else None

    # -- talking to the agents (their own threads) -----------------------------------------------

    def _drain(self, agent: _Agent) -> None:
        """Move what the agent's cameras say into the supervisor's inbox."""
        import ray
        from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

        while not self._closing.is_set() and agent.dead is None:
            try:
                batch = ray.get(agent.actor.drain.remote(0.5), timeout=CALL_TIMEOUT_S)
            except (ActorUnavailableError, GetTimeoutError):
                time.sleep(0.5)  # out of reach for now: `_follow_nodes` decides when it is gone
                continue
            except RayActorError as err:
                agent.dead = f"node {agent.node.name}: its agent died ({_short(err)})"
                self._reconciled = 0.0
                return
            agent.heard = time.monotonic()
            for message in batch:
                if isinstance(message, LeaseLost):
                    self._lease_lost(message)
                else:
                    self._inbox.put(message)

    def _lease_lost(self, message: LeaseLost) -> None:
        with self._lock:
            if self._placement.get(message.camera) == message.node:
                del self._placement[message.camera]
                why = f"node {message.node} lost its lease ({message.reason})"
                self._lost[message.camera] = (message.node, why)
        self._reconciled = 0.0

    def _collect_reports(self) -> None:
        import ray

        with self._lock:
            agents = [a for a in self._agents.values() if a.ready and a.dead is None]
        refs = {a.node.name: a.actor.report.remote() for a in agents}
        done, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=2.0)
        for agent in agents:
            ref = refs[agent.node.name]
            if ref in done:
                try:
                    agent.report = ray.get(ref)
                except Exception:  # its drain thread finds out what is wrong
                    continue


def connect_ray(address: str, token_file: Path | None = None) -> None:
    """Join the Ray cluster at `address` as its driver, showing the token in `token_file`
    (Ray's token authentication); VigilError in one line when there is none there or the
    token cannot be read."""
    import ray

    if token_file is not None:
        try:
            if not token_file.read_text().strip():
                raise OSError("empty")
        except OSError as err:
            reason = err.strerror or str(err)
            raise VigilError(f"cluster.token_file: cannot read {token_file}: {reason}") from None
        authenticate_to_ray(token_file)
    elif os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        log.warning("the Ray cluster is joined without token authentication (cluster.token_file):"
                    " unless its nodes are firewalled, anyone who reaches them can run code")  # fmt: skip

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise VigilError(f"cluster.address: expected HOST:PORT of the Ray head, got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=3.0):
            pass
    except OSError as err:
        raise VigilError(
            f"cluster.address: no Ray cluster at {address}: {err.strerror or err}"
        ) from None
    # Ray's core installs its own SIGTERM handler (a stack dump, then abort): `vigil serve`
    # keeps its own, which stops the site in order.
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        ray.init(address=address, namespace="vigil", logging_level=logging.WARNING,
                 log_to_driver=True, configure_logging=False)  # fmt: skip
    except Exception as err:
        raise VigilError(f"cluster.address: cannot join the Ray cluster at {address}: "
                         f"{_short(err)}") from None  # fmt: skip
    finally:
        for signum, handler in handlers.items():
            if handler is not None:
                signal.signal(signum, handler)


def _passed_env() -> dict[str, str]:
    """What the agents inherit from `vigil serve`'s environment: where models are (the same
    path on every node, as with the site file's paths)."""
    return {k: os.environ[k] for k in PASSED_ENV if k in os.environ}


def _move(camera: str, old: str | None, new: str | None, why: str) -> MoveView:
    return MoveView(camera=camera, from_node=old, to_node=new, at=datetime.now(UTC), why=why)


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
