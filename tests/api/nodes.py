"""A cluster for the API tests: `FolderCluster` implements the API's own `ClusterControl`
protocol over folders. Each node's disk is a folder here, so a file of another node
(``/srv/vigil/nodes/node-2/...``) does not exist on this machine and can only be served by
fetching it through `node_file`. Two nodes: ``head`` (this process) runs cam1, ``node-2`` cam2.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vigil.api.cluster import AssignmentView, MoveView, NodeUnavailable, NodeView

REMOTE_ROOT = Path("/srv/vigil/nodes")  # where the other nodes keep their files (not here)
SINCE = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


@dataclass
class FolderCluster:
    """A `ClusterControl`: node disks are folders under `disks`; this process is `head`."""

    disks: Path
    cache: Path
    down: set[str] = field(default_factory=set)
    #: Nodes still counted alive whose files cannot be fetched (one that died a moment ago).
    unreachable: set[str] = field(default_factory=set)
    fetched: list[tuple[str, Path]] = field(default_factory=list)
    moves: list[MoveView] = field(default_factory=list)

    def disk_path(self, node: str, path: Path) -> Path:
        return self.disks / node / path.relative_to(path.anchor)

    def cluster_status(self) -> tuple[list[NodeView], dict[str, AssignmentView], list[MoveView]]:
        nodes = [
            NodeView("head", True, True, "127.0.0.1", [101, 102], ["cam1"], 4, 0.25),
            NodeView("node-2", "node-2" not in self.down, False, "127.0.0.2", [201], ["cam2"], 2, 0.5),
        ]  # fmt: skip
        assignments = {
            "cam1": AssignmentView("head", 3, SINCE),
            "cam2": AssignmentView("node-2", 7, SINCE.replace(minute=5)),
        }
        return nodes, assignments, list(self.moves)

    def node_file(self, node: str, path: Path) -> Path:
        if node in self.down | self.unreachable:
            raise NodeUnavailable(node)
        source = self.disk_path(node, path)
        if not source.is_file():
            raise FileNotFoundError(path)
        self.fetched.append((node, path))
        copy = self.cache / node / path.relative_to(path.anchor)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
        return copy

    def local_node(self) -> str | None:
        return "head"
