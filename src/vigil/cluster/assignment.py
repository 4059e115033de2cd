"""Which node runs which camera: the cluster head's placement logic (pure: no Ray, no DB).

`assign` turns the site's cameras, its nodes (alive or not, capacity in cameras, labels) and
the placement now into the next placement. It never moves what need not move: a camera stays
on its node while that node is alive, can take it (pin, labels) and is within capacity. The
cameras left without a node go, most constrained first, to the node they can run on whose
load (cameras / capacity) stays lowest, ties by name; a camera that fits nowhere may make
room by moving one camera that can run elsewhere off a full node (a GPU camera whose GPU node
died takes the place of a plain camera on another GPU node). With `rebalance`, cameras then
move from the most loaded nodes to the least loaded ones while each move narrows the gap
between the two by more than one camera's worth: a node that joins or comes back gets its
fair share, and a site in balance moves nothing.

The head rebalances when capacity was added (a node joined or came back), not when nodes
were only lost: a failure then moves only the lost nodes' cameras (and the fewest needed to
make room), even where a dead GPU node's cameras left the other GPU nodes fuller than the
CPU nodes (rebalancing then would move plain cameras off healthy GPU nodes).

Placement queries go through a lazy heap per kind of camera (same pin, same labels), so
2,000 cameras on 50 nodes settle in milliseconds (benchmarks/cluster_assignment.py).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from vigil.errors import VigilError

__all__ = ["Assignment", "CameraDemand", "NodeInfo", "assign", "check_placement"]


@dataclass(frozen=True)
class NodeInfo:
    """A node of the cluster as the head sees it."""

    name: str
    alive: bool
    capacity: int  # cameras
    labels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CameraDemand:
    """What a camera asks of the node that runs it."""

    id: str
    node: str | None = None  # pinned to this node
    labels: frozenset[str] = frozenset()  # the node must carry all of them


@dataclass(frozen=True)
class Assignment:
    """The next placement. `moved`: cameras that had a node in `current` and now have
    another or none (a camera placed for the first time is not moved)."""

    placement: dict[str, str]  # camera -> node, for every camera that can run
    unplaced: dict[str, str]  # camera -> why not, one line
    moved: frozenset[str]


#: Cameras with the same pin and labels can run on the same nodes.
_Kind = tuple[str | None, frozenset[str]]


def _kind(camera: CameraDemand) -> _Kind:
    return camera.node, camera.labels


def _names(labels: Iterable[str]) -> str:
    return ", ".join(sorted(labels))


class _Site:
    """The working state of one `assign` call: the cameras on each node."""

    def __init__(self, cameras: Sequence[CameraDemand], nodes: Sequence[NodeInfo]) -> None:
        self.cameras = {camera.id: camera for camera in cameras}
        self.nodes = {node.name: node for node in nodes}
        self.on: dict[str, set[str]] = {node.name: set() for node in nodes}
        self.kinds: dict[str, Counter[_Kind]] = {node.name: Counter() for node in nodes}
        self._eligible: dict[_Kind, tuple[str, ...]] = {}
        self._heaps: dict[_Kind, list[tuple[float, str]]] = {}

    def runs(self, kind: _Kind, node: str) -> bool:
        """Whether `node` is live, has capacity and can run cameras of `kind`."""
        pin, labels = kind
        info = self.nodes[node]
        return info.alive and info.capacity > 0 and labels <= info.labels and pin in (None, node)

    def eligible(self, camera: CameraDemand) -> tuple[str, ...]:
        """The live nodes with capacity that can run `camera`, by name."""
        return self.eligible_for(_kind(camera))

    def eligible_for(self, kind: _Kind) -> tuple[str, ...]:
        found = self._eligible.get(kind)
        if found is None:
            found = tuple(sorted(node for node in self.nodes if self.runs(kind, node)))
            self._eligible[kind] = found
        return found

    def load(self, node: str, extra: int = 0) -> float:
        return (len(self.on[node]) + extra) / self.nodes[node].capacity

    def has_room(self, node: str) -> bool:
        return len(self.on[node]) < self.nodes[node].capacity

    def put(self, camera: str, node: str) -> None:
        self.on[node].add(camera)
        self.kinds[node][_kind(self.cameras[camera])] += 1

    def take(self, camera: str, node: str) -> None:
        self.on[node].remove(camera)
        self.kinds[node][_kind(self.cameras[camera])] -= 1

    def narrows_gap(self, giver: str, receiver: str) -> bool:
        """Whether moving one camera from `giver` to `receiver` (which has room) narrows the
        gap in load between them by more than it adds: 2 (l_giver - l_receiver) >
        1/c_giver + 1/c_receiver, in exact integers."""
        held, capacity = len(self.on[giver]), self.nodes[giver].capacity
        count, room = len(self.on[receiver]), self.nodes[receiver].capacity
        return count < room and 2 * (held * room - count * capacity) > room + capacity

    def could_give(self, giver: str, receiver: str) -> bool:
        """Whether `giver` holds a camera `receiver` can run, and a move narrows the gap."""
        return self.narrows_gap(giver, receiver) and any(
            held and self.runs(kind, receiver) for kind, held in self.kinds[giver].items()
        )

    def least_loaded(self, camera: CameraDemand) -> str | None:
        """The node with room for `camera` whose load after taking it is lowest, ties by
        name. Loads only grow while cameras are being placed, so a heap entry whose key is
        stale is pushed back with its current key, and a full node leaves the heap."""
        kind = _kind(camera)
        heap = self._heaps.get(kind)
        if heap is None:
            heap = [(self.load(node, 1), node) for node in self.eligible(camera)]
            heapq.heapify(heap)
            self._heaps[kind] = heap
        while heap:
            key, node = heap[0]
            if not self.has_room(node):
                heapq.heappop(heap)
            elif key != self.load(node, 1):
                heapq.heapreplace(heap, (self.load(node, 1), node))
            else:
                return node
        return None

    def why_not(self, camera: CameraDemand) -> str:
        """One line: why `camera` has no node."""
        need = f" with label(s) {_names(camera.labels)}" if camera.labels else ""
        if camera.node is not None:
            node = self.nodes.get(camera.node)
            where = f"pinned to node {camera.node!r}"
            if node is None:
                return f"{where}, which is not in the cluster"
            if not node.alive:
                return f"{where}, which is down"
            if not camera.labels <= node.labels:
                return f"{where}, which lacks label(s) {_names(camera.labels - node.labels)}"
            return f"{where}, which is full ({node.capacity} cameras)"
        live = [n for n in self.nodes.values() if n.alive and camera.labels <= n.labels]
        if not live:
            return f"no live node{need}"
        return f"no live node{need} has room"


def _check_input(cameras: Sequence[CameraDemand], nodes: Sequence[NodeInfo]) -> None:
    for what, names in (("camera", [c.id for c in cameras]), ("node", [n.name for n in nodes])):
        twice = sorted(name for name, seen in Counter(names).items() if seen > 1)
        if twice:
            raise VigilError(f"{what} {twice[0]!r} is listed {Counter(names)[twice[0]]} times")
    for node in nodes:
        if node.capacity < 0:
            raise VigilError(f"node {node.name!r}: capacity {node.capacity} is negative")


def check_placement(cameras: Sequence[CameraDemand], nodes: Sequence[NodeInfo]) -> None:
    """VigilError in one line for: a pin to a node that does not exist, a camera whose labels
    no node carries (or its pinned node lacks), total capacity 0 (a node with no capacity is
    fine if others have room); also a camera or node listed twice, a negative capacity."""
    _check_input(cameras, nodes)
    by_name = {node.name: node for node in nodes}
    problems: list[str] = []
    for camera in cameras:
        pinned = by_name.get(camera.node) if camera.node is not None else None
        if camera.node is not None and pinned is None:
            problems.append(
                f"camera {camera.id!r}: node {camera.node!r} is not a node of the cluster "
                f"(nodes: {_names(by_name) or 'none'})"
            )
        elif pinned is not None and not camera.labels <= pinned.labels:
            missing = _names(camera.labels - pinned.labels)
            problems.append(
                f"camera {camera.id!r}: pinned to node {pinned.name!r}, "
                f"which lacks label(s) {missing}"
            )
        elif not any(camera.labels <= node.labels for node in nodes):
            problems.append(
                f"camera {camera.id!r}: labels {_names(camera.labels)}: no node carries them all"
            )
    if cameras and sum(node.capacity for node in nodes) == 0:
        problems.append(f"the cluster's nodes ({_names(by_name) or 'none'}) have no capacity")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise VigilError(problems[0] + more)


def assign(
    cameras: Sequence[CameraDemand],
    nodes: Sequence[NodeInfo],
    current: Mapping[str, str],
    *,
    rebalance: bool = True,
) -> Assignment:
    """The next placement of `cameras` on `nodes`, given `current` (camera -> node); see the
    module docstring for the rules. Deterministic: the same input in any order gives the
    same result. VigilError for a camera or node listed twice or a negative capacity."""
    _check_input(cameras, nodes)
    site = _Site(cameras, nodes)
    waiting = _keep_current(site, cameras, current)
    unplaced = _place(site, waiting, current)
    if rebalance:
        _rebalance(site, current)
    placement = {camera: node for node, held in site.on.items() for camera in held}
    moved = frozenset(
        camera.id
        for camera in cameras
        if camera.id in current and placement.get(camera.id) != current[camera.id]
    )
    return Assignment(dict(sorted(placement.items())), unplaced, moved)


def _constrained_first(site: _Site, camera: CameraDemand) -> tuple[int, str]:
    return len(site.eligible(camera)), camera.id


def _keep_current(
    site: _Site, cameras: Sequence[CameraDemand], current: Mapping[str, str]
) -> list[CameraDemand]:
    """Leaves each camera on its current node where it may stay; returns the others. A node
    over capacity (it shrank) keeps the cameras that have the fewest other places to go."""
    claims: dict[str, list[CameraDemand]] = {}
    waiting: list[CameraDemand] = []
    for camera in cameras:
        node = current.get(camera.id)
        if node is not None and node in site.eligible(camera):
            claims.setdefault(node, []).append(camera)
        else:
            waiting.append(camera)
    for node, claimants in claims.items():
        claimants.sort(key=lambda camera: _constrained_first(site, camera))
        capacity = site.nodes[node].capacity
        for camera in claimants[:capacity]:
            site.put(camera.id, node)
        waiting.extend(claimants[capacity:])
    return waiting


def _place(site: _Site, waiting: list[CameraDemand], current: Mapping[str, str]) -> dict[str, str]:
    """Places `waiting`, most constrained first; returns camera -> why not for the rest."""
    unplaced: dict[str, str] = {}
    stuck: set[_Kind] = set()  # nodes only fill up: a kind that found no room never will
    for camera in sorted(waiting, key=lambda camera: _constrained_first(site, camera)):
        node = site.least_loaded(camera)
        if node is None and _kind(camera) not in stuck:
            node = _make_room(site, camera, current)
        if node is None:
            stuck.add(_kind(camera))
            unplaced[camera.id] = site.why_not(camera)
        else:
            site.put(camera.id, node)
    return unplaced


def _make_room(site: _Site, camera: CameraDemand, current: Mapping[str, str]) -> str | None:
    """A node `camera` can run on, emptied of one camera that moved to another node with
    room (preferring one placed in this call, which then does not count as moved)."""
    full: set[_Kind] = set()  # kinds of camera with no room elsewhere either
    for node in sorted(site.eligible(camera), key=lambda name: (site.load(name), name)):
        residents = sorted(site.on[node], key=lambda c: (current.get(c) == node, c))
        for resident in residents:
            demand = site.cameras[resident]
            if demand.node is not None or _kind(demand) in full:
                continue
            target = site.least_loaded(demand)  # never `node`: it is full
            if target is None:
                full.add(_kind(demand))
                continue
            site.take(resident, node)
            site.put(resident, target)
            return node
    return None


def _rebalance(site: _Site, current: Mapping[str, str]) -> None:
    """Moves cameras off the most loaded node to the least loaded one that can run them, while
    a move narrows the gap between the two by more than it adds (`_Site.narrows_gap`: nodes
    of one capacity that differ by one camera are balanced). Each move lowers
    sum(cameras^2 / capacity), so it ends. A giver none of whose cameras can move waits
    until a move changes that: the receiver may now give, the giver may now receive from a
    waiting node; at the end no move is left, so a second call moves nothing."""
    live = [name for name, node in site.nodes.items() if node.alive and node.capacity > 0]
    givers = [(-site.load(name), name) for name in live if site.on[name]]
    heapq.heapify(givers)
    queued = {name for _, name in givers}
    waiting: set[str] = set()

    def queue(name: str) -> None:
        if name not in queued:
            queued.add(name)
            waiting.discard(name)
            heapq.heappush(givers, (-site.load(name), name))

    while givers:
        _, giver = heapq.heappop(givers)
        queued.discard(giver)
        move = _best_move(site, giver, current)
        if move is None:
            waiting.add(giver)
            continue
        camera, receiver = move
        site.take(camera, giver)
        site.put(camera, receiver)
        queue(giver)
        queue(receiver)
        for name in sorted(waiting):
            if site.could_give(name, giver):
                queue(name)


def _best_move(site: _Site, giver: str, current: Mapping[str, str]) -> tuple[str, str] | None:
    """(camera, receiver) for one move off `giver`: the receiver with the lowest load after
    the move among those that can run the camera; the camera preferably one placed in this
    call (it does not count as moved), then by id."""
    receiver_of: dict[_Kind, str] = {}
    for kind, held in site.kinds[giver].items():
        if not held:
            continue
        receivers = [
            (site.load(node, 1), node)
            for node in site.eligible_for(kind)
            if site.narrows_gap(giver, node)
        ]
        if receivers:
            receiver_of[kind] = min(receivers)[1]
    movable = [c for c in site.on[giver] if _kind(site.cameras[c]) in receiver_of]
    if not movable:
        return None
    camera = min(movable, key=lambda c: (current.get(c) == giver, c))
    return camera, receiver_of[_kind(site.cameras[camera])]
