"""Camera placement at site scale (issue 10): 2,000 cameras on 50 nodes through node deaths,
returns and new nodes, against a stateless placement in the same run.

    python benchmarks/cluster_assignment.py [--repeat 5]

The site: `head`, `node-2` .. `node-40` (CPU) and `gpu-1` .. `gpu-10` (label `gpu`), 60
cameras each (3,000 places). Cameras: 1,600 plain, 360 needing `gpu`, 20 pinned to `node-5`
and 20 pinned to `gpu-2` (needing `gpu` too). Each change is applied to the placement the
previous one left by `vigil.cluster.assignment.assign` as the head calls it: with
`rebalance` when nodes came back or joined, without when nodes only died. Columns:

- ms: median time of `--repeat` calls of `assign` for that change;
- moved: cameras whose node changed (or that lost theirs);
- forced: of those, cameras whose node died;
- room: cameras that had to move off a live node to make room for a GPU camera of a dead node
  (the GPU cameras left without a node minus the free GPU places: a lower bound);
- needless: on a failure, moves beyond forced + room (must be 0); on a return or a new node
  the other moves are the rebalance, shown as `rebal`;
- if rebal: on a failure, the needless moves `rebalance=True` would have made (plain
  cameras leaving GPU nodes that took a dead GPU node's cameras: why the head does not
  rebalance on failures);
- unplaced: cameras with no node after the change;
- load: the least and most loaded live node (cameras / capacity) after the change;
- stateless: cameras a placement without memory (the same rules, from nothing) would have
  moved, and how many times `moved` that is.

Every result is checked: no node above capacity, every camera on a live node that carries
its labels and honours its pin.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from vigil.cluster.assignment import Assignment, CameraDemand, NodeInfo, assign

GPU = frozenset({"gpu"})
CAPACITY = 60

Nodes = dict[str, NodeInfo]


def site() -> tuple[list[CameraDemand], Nodes]:
    names = ["head", *(f"node-{k}" for k in range(2, 41))]
    nodes = {name: NodeInfo(name, True, CAPACITY) for name in names}
    nodes |= {f"gpu-{k}": NodeInfo(f"gpu-{k}", True, CAPACITY, GPU) for k in range(1, 11)}
    cameras = [CameraDemand(f"cam-{k:04d}") for k in range(1600)]
    cameras += [CameraDemand(f"gpu-cam-{k:03d}", labels=GPU) for k in range(360)]
    cameras += [CameraDemand(f"pin5-{k:02d}", node="node-5") for k in range(20)]
    cameras += [CameraDemand(f"pin-gpu2-{k:02d}", node="gpu-2", labels=GPU) for k in range(20)]
    return cameras, nodes


def down(*names: str) -> Callable[[Nodes], None]:
    def change(nodes: Nodes) -> None:
        for name in names:
            nodes[name] = NodeInfo(name, False, nodes[name].capacity, nodes[name].labels)

    return change


def up(*names: str, labels: frozenset[str] = frozenset()) -> Callable[[Nodes], None]:
    def change(nodes: Nodes) -> None:
        for name in names:
            known = nodes.get(name)
            nodes[name] = NodeInfo(name, True, CAPACITY, known.labels if known else labels)

    return change


def changes() -> list[tuple[str, bool, Callable[[Nodes], None]]]:
    """(what, is a failure, how the nodes change)."""
    several = ("node-12", "node-13", "node-14", "gpu-5")
    tenth = (*(f"node-{k}" for k in range(20, 28)), "gpu-7", "gpu-8")
    half_gpu = tuple(f"gpu-{k}" for k in range(1, 6))
    new = tuple(f"node-{k}" for k in range(51, 56))
    return [
        ("kill node-7", True, down("node-7")),
        ("kill gpu-3", True, down("gpu-3")),
        ("kill 3 CPU + 1 GPU at once", True, down(*several)),
        ("node-7 back", False, up("node-7")),
        ("gpu-3 back", False, up("gpu-3")),
        ("3 CPU + 1 GPU back", False, up(*several)),
        ("add 5 CPU nodes", False, up(*new)),
        ("add gpu-11", False, up("gpu-11", labels=GPU)),
        ("kill 10 nodes (8 CPU, 2 GPU)", True, down(*tenth)),
        ("those 10 back", False, up(*tenth)),
        ("kill gpu-1..gpu-5 (half the GPUs)", True, down(*half_gpu)),
        ("gpu-1..gpu-5 back", False, up(*half_gpu)),
    ]


def check(cameras: Sequence[CameraDemand], nodes: Nodes, result: Assignment) -> None:
    for camera in cameras:
        name = result.placement.get(camera.id)
        if name is None:
            continue
        node = nodes[name]
        assert node.alive and camera.labels <= node.labels, (camera, node)
        assert camera.node in (None, name), (camera, name)
    for name, held in Counter(result.placement.values()).items():
        assert held <= nodes[name].capacity, (name, held)


def room_needed(cameras: Sequence[CameraDemand], nodes: Nodes, current: Mapping[str, str]) -> int:
    """GPU cameras (not pinned) whose node died, beyond the free places on live GPU nodes."""
    orphans = sum(
        1
        for c in cameras
        if c.labels and c.node is None and c.id in current and not nodes[current[c.id]].alive
    )
    held = Counter(current[c.id] for c in cameras if c.id in current)
    free = sum(n.capacity - held[n.name] for n in nodes.values() if n.alive and n.labels >= GPU)
    return max(0, orphans - free)


def timed(
    cameras: Sequence[CameraDemand],
    nodes: Nodes,
    current: Mapping[str, str],
    repeat: int,
    rebalance: bool = True,
) -> tuple[Assignment, float]:
    laps = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = assign(cameras, list(nodes.values()), current, rebalance=rebalance)
        laps.append(time.perf_counter() - started)
    return result, statistics.median(laps) * 1000


def load_range(nodes: Nodes, placement: Mapping[str, str]) -> str:
    held = Counter(placement.values())
    loads = [held[n.name] / n.capacity for n in nodes.values() if n.alive and n.capacity]
    return f"{min(loads):.0%}-{max(loads):.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="calls timed per change")
    args = parser.parse_args()
    cameras, nodes = site()
    first, ms = timed(cameras, nodes, {}, args.repeat)
    check(cameras, nodes, first)
    print(f"{len(cameras)} cameras on {len(nodes)} nodes, first placement in {ms:.1f} ms\n")
    print(
        f"{'change':<35} {'ms':>6} {'moved':>6} {'forced':>6} {'room':>5} {'needless':>9}"
        f" {'if rebal':>8} {'unplaced':>8} {'load':>8} {'stateless':>10}"
    )
    current = first.placement
    worst_needless = 0
    for what, failure, change in changes():
        change(nodes)
        result, ms = timed(cameras, nodes, current, args.repeat, rebalance=not failure)
        check(cameras, nodes, result)
        forced = sum(1 for c in result.moved if not nodes[current[c]].alive)
        room = room_needed(cameras, nodes, current) if failure else 0
        other = len(result.moved) - forced - room
        needless = f"{other}" if failure else f"rebal {other}"
        rebalanced = assign(cameras, list(nodes.values()), current).moved
        if_rebalanced = f"{len(rebalanced) - forced - room}" if failure else "-"
        worst_needless = max(worst_needless, other if failure else 0)
        stateless = assign(cameras, list(nodes.values()), {}).placement
        again = sum(1 for c, n in current.items() if stateless.get(c) != n)
        ratio = f"{again / len(result.moved):.0f}x" if result.moved else "-"
        print(
            f"{what:<35} {ms:>6.1f} {len(result.moved):>6} {forced:>6} {room:>5} {needless:>9}"
            f" {if_rebalanced:>8} {len(result.unplaced):>8} {load_range(nodes, result.placement):>8}"
            f" {again:>5} {ratio:>4}"
        )
        current = result.placement
    print(f"\nneedless moves on failures: {worst_needless} (must be 0)")


if __name__ == "__main__":
    main()
