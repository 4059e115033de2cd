"""Camera placement on cluster nodes (`vigil.cluster.assignment`): capacity, pins, labels,
node death and return, rebalancing, determinism and bad input."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from vigil.cluster.assignment import (
    Assignment,
    CameraDemand,
    NodeInfo,
    assign,
    check_placement,
)
from vigil.errors import VigilError

GPU = frozenset({"gpu"})


def cams(count: int, prefix: str = "cam", **demand: object) -> list[CameraDemand]:
    return [CameraDemand(f"{prefix}-{k:03d}", **demand) for k in range(count)]  # type: ignore[arg-type]


def node(
    name: str, capacity: int = 10, alive: bool = True, labels: frozenset[str] = frozenset()
) -> NodeInfo:
    return NodeInfo(name, alive, capacity, labels)


def per_node(result: Assignment) -> Counter[str]:
    return Counter(result.placement.values())


def test_cameras_spread_by_load_within_capacity() -> None:
    nodes = [node("a", 4), node("b", 4), node("c", 8)]
    result = assign(cams(8), nodes, {})
    assert per_node(result) == {"a": 2, "b": 2, "c": 4}
    assert result.unplaced == {} and result.moved == frozenset()

    full = assign(cams(18), nodes, {})
    assert per_node(full) == {"a": 4, "b": 4, "c": 8}
    assert full.unplaced == {"cam-016": "no live node has room", "cam-017": "no live node has room"}


def test_pinned_camera_runs_on_its_node_or_nowhere() -> None:
    nodes = [node("a", 2), node("b", 2), node("down", 2, alive=False)]
    cameras = [
        *cams(2, "b-pin", node="b"),
        CameraDemand("late", node="b"),
        CameraDemand("ghost", node="nowhere"),
        CameraDemand("orphan", node="down"),
        CameraDemand("free"),
    ]
    result = assign(cameras, nodes, {})
    assert result.placement == {"b-pin-000": "b", "b-pin-001": "b", "free": "a"}
    assert result.unplaced == {
        "ghost": "pinned to node 'nowhere', which is not in the cluster",
        "late": "pinned to node 'b', which is full (2 cameras)",
        "orphan": "pinned to node 'down', which is down",
    }


def test_labelled_cameras_only_on_nodes_with_all_labels() -> None:
    nodes = [node("cpu-1"), node("cpu-2"), node("gpu-1", labels=frozenset({"gpu", "depot"}))]
    cameras = [*cams(3, "gpu", labels=GPU), *cams(6, "plain")]
    result = assign(cameras, nodes, {})
    assert {result.placement[f"gpu-{k:03d}"] for k in range(3)} == {"gpu-1"}
    assert per_node(result) == {"gpu-1": 3, "cpu-1": 3, "cpu-2": 3}

    without_gpu = [node("cpu-1"), node("gpu-1", alive=False, labels=GPU)]
    result = assign(cams(1, "gpu", labels=GPU), without_gpu, {})
    assert result.unplaced == {"gpu-000": "no live node with label(s) gpu"}


def test_camera_that_fits_nowhere_takes_the_place_of_one_that_can_run_elsewhere() -> None:
    # gpu-1 dies; gpu-2 is full of plain cameras, which can go to the CPU node.
    nodes = [
        node("cpu", 10),
        node("gpu-1", 2, alive=False, labels=GPU),
        node("gpu-2", 2, labels=GPU),
    ]
    cameras = [*cams(2, "gpu", labels=GPU), *cams(2, "plain")]
    current = {"gpu-000": "gpu-1", "gpu-001": "gpu-1", "plain-000": "gpu-2", "plain-001": "gpu-2"}
    result = assign(cameras, nodes, current, rebalance=False)
    assert result.placement == {
        "gpu-000": "gpu-2",
        "gpu-001": "gpu-2",
        "plain-000": "cpu",
        "plain-001": "cpu",
    }
    assert result.unplaced == {}


def test_node_death_moves_only_its_cameras_and_its_return_takes_a_fair_share() -> None:
    nodes = [node(f"n{k}", 20) for k in range(4)]
    start = assign(cams(40), nodes, {})
    assert set(per_node(start).values()) == {10}

    nodes[1] = node("n1", 20, alive=False)
    after_death = assign(cams(40), nodes, start.placement)
    on_dead = {camera for camera, name in start.placement.items() if name == "n1"}
    assert after_death.moved == on_dead
    assert sorted(per_node(after_death).values()) == [13, 13, 14]
    assert all(
        after_death.placement[c] == start.placement[c] for c in start.placement.keys() - on_dead
    )

    nodes[1] = node("n1", 20)
    back = assign(cams(40), nodes, after_death.placement)
    assert per_node(back)["n1"] == 10 and set(per_node(back).values()) == {10}
    assert {back.placement[c] for c in back.moved} == {"n1"} and len(back.moved) == 10

    without_rebalance = assign(cams(40), nodes, after_death.placement, rebalance=False)
    assert without_rebalance.moved == frozenset()
    assert without_rebalance.placement == after_death.placement


def test_gpu_node_death_without_rebalance_leaves_healthy_nodes_alone() -> None:
    nodes = [
        node("cpu-1", 10),
        node("cpu-2", 10),
        node("gpu-1", 10, labels=GPU),
        node("gpu-2", 10, labels=GPU),
    ]
    cameras = [*cams(8, "gpu", labels=GPU), *cams(16, "plain")]
    start = assign(cameras, nodes, {})
    assert set(per_node(start).values()) == {6}

    nodes[2] = node("gpu-1", 10, alive=False, labels=GPU)
    failed = assign(cameras, nodes, start.placement, rebalance=False)
    on_dead = {camera for camera, name in start.placement.items() if name == "gpu-1"}
    assert failed.moved == on_dead and failed.unplaced == {}
    # gpu-2 is fuller than the CPU nodes: evening that out would move healthy cameras.
    rebalanced = assign(cameras, nodes, start.placement)
    assert rebalanced.moved > on_dead

    nodes[2] = node("gpu-1", 10, labels=GPU)
    back = assign(cameras, nodes, failed.placement)
    assert set(per_node(back).values()) == {6}
    assert {back.placement[c] for c in back.moved} == {"gpu-1"}


def test_new_node_gets_a_fair_share_of_unequal_capacities() -> None:
    nodes = [node("small", 10), node("big", 30)]
    start = assign(cams(20), nodes, {})
    assert per_node(start) == {"small": 5, "big": 15}
    grown = assign(cams(20), [*nodes, node("new", 40)], start.placement)
    # The mean load is 20/80: each node ends within one camera of its share (2.5, 7.5, 10).
    assert per_node(grown) == {"small": 2, "big": 8, "new": 10}
    assert len(grown.moved) == 10 and {grown.placement[c] for c in grown.moved} == {"new"}


def test_site_in_balance_moves_nothing() -> None:
    nodes = [node(f"n{k}", 7 + k) for k in range(5)] + [node("gpu", 9, labels=GPU)]
    cameras = [*cams(31), *cams(5, "gpu", labels=GPU), *cams(2, "pin", node="n0")]
    first = assign(cameras, nodes, {})
    again = assign(cameras, nodes, first.placement)
    assert again.placement == first.placement and again.moved == frozenset()

    # Off by one camera is balance too: nothing moves to even it out.
    uneven = {f"cam-{k:03d}": ("n0", "n1")[k % 2] for k in range(5)}
    pair = [node("n0"), node("n1")]
    assert assign(cams(5), pair, uneven).moved == frozenset()


def test_node_that_shrank_keeps_the_cameras_with_fewest_other_places() -> None:
    current = {"pinned": "a", "gpu": "a", "plain": "a"}
    cameras = [
        CameraDemand("plain"),
        CameraDemand("gpu", labels=GPU),
        CameraDemand("pinned", node="a"),
    ]
    nodes = [node("a", 2, labels=GPU), node("b", 5)]
    result = assign(cameras, nodes, current)
    assert result.placement == {"gpu": "a", "pinned": "a", "plain": "b"}
    assert result.moved == {"plain"}


def test_camera_whose_node_vanished_or_no_longer_fits_moves() -> None:
    cameras = [CameraDemand("gone"), CameraDemand("relabelled", labels=GPU)]
    current = {"gone": "retired-node", "relabelled": "cpu", "removed-camera": "cpu"}
    result = assign(cameras, [node("cpu"), node("gpu", labels=GPU)], current)
    assert result.placement == {"gone": "cpu", "relabelled": "gpu"}
    assert result.moved == {"gone", "relabelled"}


def test_node_without_capacity_gets_nothing() -> None:
    nodes = [node("head", 0), node("worker", 3)]
    check_placement(cams(3), nodes)
    result = assign(cams(4), nodes, {})
    assert per_node(result) == {"worker": 3}
    assert result.unplaced == {"cam-003": "no live node has room"}


def test_result_does_not_depend_on_input_order() -> None:
    rng = random.Random(7)
    nodes = [
        node(f"n{k}", rng.randint(5, 15), labels=GPU if k % 3 == 0 else frozenset())
        for k in range(9)
    ]
    cameras = [*cams(60), *cams(15, "gpu", labels=GPU), *cams(4, "pin", node="n4")]
    current = {c.id: rng.choice(nodes).name for c in cameras if rng.random() < 0.5}
    nodes[2] = node("n2", 9, alive=False)
    expected = assign(cameras, nodes, current)
    for _ in range(5):
        rng.shuffle(cameras)
        rng.shuffle(nodes)
        shuffled = dict(rng.sample(sorted(current.items()), len(current)))
        assert assign(cameras, nodes, shuffled) == expected


def test_rebalance_retries_a_giver_once_another_node_has_made_room_for_it() -> None:
    # gpu-b cannot give its GPU camera to gpu-a until gpu-a gives its plain camera to cpu:
    # one call must do both, or the next call would move a camera again.
    nodes = [
        node("gpu-a", 6, labels=GPU),
        node("cpu", 7),
        node("gpu-b", 4, labels=GPU),
        node("tiny", 1),
        node("big", 8),
    ]
    cameras = [
        CameraDemand("plain-1"),
        CameraDemand("gpu-cam", labels=GPU),
        CameraDemand("plain-2"),
    ]
    result = assign(cameras, nodes, {"plain-1": "gpu-a"})
    assert result.placement == {"gpu-cam": "gpu-a", "plain-1": "cpu", "plain-2": "big"}
    assert assign(cameras, nodes, result.placement).moved == frozenset()


def random_site(seed: int) -> tuple[list[CameraDemand], list[NodeInfo], dict[str, str]]:
    rng = random.Random(seed)
    nodes = [
        node(
            f"n{k}",
            rng.randint(0, 8),
            rng.random() > 0.2,
            GPU if rng.random() < 0.3 else frozenset(),
        )
        for k in range(rng.randint(1, 7))
    ]
    cameras = []
    for k in range(rng.randint(0, 40)):
        roll = rng.random()
        pin = rng.choice(nodes).name if roll < 0.1 else None
        cameras.append(CameraDemand(f"c{k}", pin, GPU if 0.1 <= roll < 0.3 else frozenset()))
    current = {c.id: rng.choice(nodes).name for c in cameras if rng.random() < 0.6}
    return cameras, nodes, current


@pytest.mark.parametrize("seed", range(400))
def test_any_site_gets_a_valid_placement_that_a_second_call_keeps(seed: int) -> None:
    cameras, nodes, current = random_site(seed)
    by_name = {n.name: n for n in nodes}
    result = assign(cameras, nodes, current)
    for camera in cameras:
        name = result.placement.get(camera.id)
        assert (name is None) == (camera.id in result.unplaced)
        if name is not None:
            assert by_name[name].alive and camera.labels <= by_name[name].labels
            assert camera.node in (None, name)
    assert all(held <= by_name[n].capacity for n, held in per_node(result).items())
    assert assign(cameras, nodes, result.placement).moved == frozenset()
    assert assign(cameras, nodes, result.placement, rebalance=False).moved == frozenset()

    # Without pins and labels and without rebalancing, only cameras that had to move do.
    plain = [CameraDemand(c.id) for c in cameras]
    crowded = {
        n
        for n, held in Counter(current.values()).items()
        if n in by_name and held > by_name[n].capacity
    }
    had_to = {
        c
        for c, n in current.items()
        if n not in by_name or not by_name[n].alive or not by_name[n].capacity or n in crowded
    }
    assert assign(plain, nodes, current, rebalance=False).moved <= had_to


def test_two_thousand_cameras_on_fifty_nodes_settle_fast() -> None:
    nodes = [node(f"node-{k}", 60, labels=GPU if k < 10 else frozenset()) for k in range(50)]
    cameras = [*cams(1600), *cams(380, "gpu", labels=GPU), *cams(20, "pin", node="node-7")]
    start = assign(cameras, nodes, {})
    assert start.unplaced == {}
    nodes[3] = node("node-3", 60, alive=False, labels=GPU)
    started = time.perf_counter()
    after = assign(cameras, nodes, start.placement)
    assert time.perf_counter() - started < 0.5  # milliseconds unloaded; generous for a busy box
    assert after.moved == {c for c, n in start.placement.items() if n == "node-3"}


@pytest.mark.parametrize(
    ("cameras", "nodes", "message"),
    [
        (
            [CameraDemand("gate", node="gpu-9")],
            [node("head"), node("gpu-1")],
            "camera 'gate': node 'gpu-9' is not a node of the cluster (nodes: gpu-1, head)",
        ),
        (
            [CameraDemand("gate", labels=frozenset({"gpu", "depot-3"}))],
            [node("head", labels=GPU)],
            "camera 'gate': labels depot-3, gpu: no node carries them all",
        ),
        (
            [CameraDemand("gate", node="head", labels=GPU)],
            [node("head"), node("gpu-1", labels=GPU)],
            "camera 'gate': pinned to node 'head', which lacks label(s) gpu",
        ),
        (
            [CameraDemand("gate")],
            [node("head", 0), node("n2", 0)],
            "the cluster's nodes (head, n2) have no capacity",
        ),
        (
            [CameraDemand("gate"), CameraDemand("gate")],
            [node("head")],
            "camera 'gate' is listed 2 times",
        ),
        ([CameraDemand("gate")], [node("head", -1)], "node 'head': capacity -1 is negative"),
        (
            [CameraDemand("a", node="x"), CameraDemand("b", node="y")],
            [node("head")],
            "camera 'a': node 'x' is not a node of the cluster (nodes: head) (and 1 more)",
        ),
    ],
)
def test_bad_placement_is_one_line(
    cameras: list[CameraDemand], nodes: list[NodeInfo], message: str
) -> None:
    with pytest.raises(VigilError) as raised:
        check_placement(cameras, nodes)
    assert str(raised.value) == message


def test_assign_refuses_duplicates() -> None:
    with pytest.raises(VigilError, match="node 'a' is listed 2 times"):
        assign(cams(1), [node("a"), node("a")], {})
