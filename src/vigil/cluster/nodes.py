"""The Ray cluster's nodes as Vigil sees them: a name, a capacity in cameras, labels.

A node says what it is with Ray node labels (``ray start --labels``): ``vigil-node`` its name
(default: the start of its Ray node id), ``vigil-cameras`` how many cameras it may run
(default: ``cluster.cameras_per_cpu`` x its Ray CPUs) and one ``vigil-label-NAME`` per label a
camera may ask for (``vigil-label-depot-3=true``: a Ray label value cannot hold a list). A node whose Ray resources include a GPU also carries the label
``gpu``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.cluster.assignment import CameraDemand, NodeInfo
from vigil.config.site import SiteConfig
from vigil.errors import VigilError

NODE_LABEL = "vigil-node"
CAMERAS_LABEL = "vigil-cameras"
LABEL_PREFIX = "vigil-label-"
#: What Ray accepts as a label key name or value (ray._private.label_utils.LABEL_REGEX).
_RAY_LABEL = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,61}[a-zA-Z0-9])?")
HEAD_RESOURCE = "node:__internal_head__"


@dataclass(frozen=True)
class RayNode:
    """One node of the Ray cluster."""

    info: NodeInfo
    ray_id: str
    address: str
    head: bool
    gpus: float

    @property
    def name(self) -> str:
        return self.info.name


def read_nodes(nodes: list[dict[str, Any]], cameras_per_cpu: float) -> list[RayNode]:
    """`ray.nodes()` as Vigil nodes. Where a name is taken by several Ray nodes (a machine
    that came back under a new Ray id), the live one counts; dead duplicates are dropped."""
    found: dict[str, RayNode] = {}
    for raw in nodes:
        node = _node(raw, cameras_per_cpu)
        seen = found.get(node.name)
        if seen is None or (node.info.alive and not seen.info.alive):
            found[node.name] = node
    return sorted(found.values(), key=lambda n: n.name)


def _node(raw: dict[str, Any], cameras_per_cpu: float) -> RayNode:
    labels: dict[str, str] = raw.get("Labels") or {}
    resources: dict[str, float] = raw.get("Resources") or {}
    ray_id = str(raw["NodeID"])
    gpus = float(resources.get("GPU", 0.0))
    declared = labels.get(CAMERAS_LABEL, "")
    if declared.strip().isdigit():
        capacity = int(declared)
    else:
        capacity = math.floor(float(resources.get("CPU", 0.0)) * cameras_per_cpu)
    tags = set(vigil_labels(labels))
    if gpus > 0:
        tags.add("gpu")
    return RayNode(
        info=NodeInfo(
            name=labels.get(NODE_LABEL) or ray_id[:12],
            alive=bool(raw.get("Alive")),
            capacity=capacity,
            labels=frozenset(tags),
        ),
        ray_id=ray_id,
        address=str(raw.get("NodeManagerAddress", "")),
        head=HEAD_RESOURCE in resources,
        gpus=gpus,
    )


def ray_labels(name: str, cameras: int | None = None, labels: Iterable[str] = ()) -> dict[str, str]:
    """The Ray node labels that carry a Vigil node's name, capacity and labels."""
    for value in (name, *labels):
        if not _RAY_LABEL.fullmatch(value) or len(LABEL_PREFIX + value) > 63:
            raise VigilError(
                f"node {name!r}: {value!r} is not a valid node name or label (letters, digits, "
                "'-', '_', '.', starting and ending with a letter or digit, at most 51 characters)"
            )
    if cameras is not None and cameras < 0:
        raise VigilError(f"node {name!r}: cameras must be >= 0, not {cameras}")
    out = {NODE_LABEL: name}
    if cameras is not None:
        out[CAMERAS_LABEL] = str(cameras)
    out.update({LABEL_PREFIX + label: "true" for label in labels})
    return out


def vigil_labels(labels: Mapping[str, str]) -> frozenset[str]:
    """The Vigil labels of a node, from its Ray labels (``ray.nodes()[i]["Labels"]``)."""
    return frozenset(
        key.removeprefix(LABEL_PREFIX) for key in labels if key.startswith(LABEL_PREFIX)
    )


def ray_auth_env(token_file: Path) -> dict[str, str]:
    """The environment that makes Ray processes (nodes, drivers) authenticate with the
    cluster's token in `token_file` (Ray's token authentication)."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file)}


def authenticate_to_ray(token_file: Path) -> None:
    """Make this process (a driver, or a reader of the node table) show the cluster's token
    from now on, and the processes it starts too. Ray reads its authentication settings once
    into its core's config and token cache: both are reloaded, as ``ray.init`` does when it
    turns token authentication on itself."""
    os.environ.update(ray_auth_env(token_file))
    from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def camera_demands(site: SiteConfig, cameras: set[str] | None = None) -> list[CameraDemand]:
    """What each enabled camera of `site` (of `cameras`, if given) asks of its node."""
    return [
        CameraDemand(id=c.id, node=c.node, labels=frozenset(c.node_labels))
        for c in site.cameras
        if c.enabled and (cameras is None or c.id in cameras)
    ]
