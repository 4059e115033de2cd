"""What the head tells the API about the cluster: nodes, assignments, recent moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigil.errors import VigilError


class NodeUnavailable(VigilError):
    """A file (a recording, a snapshot) is on a node that is down or out of reach."""

    def __init__(self, node: str, detail: str = "which is down") -> None:
        super().__init__(f"the file is on node {node}, {detail}")
        self.node = node


@dataclass(frozen=True)
class NodeView:
    id: str
    alive: bool
    head: bool
    address: str
    pids: list[int]  # its Ray node process (raylet), the Vigil agent, detector and workers
    cameras: list[str]
    capacity: int
    load: float


@dataclass(frozen=True)
class AssignmentView:
    node: str
    epoch: int
    since: datetime


@dataclass(frozen=True)
class MoveView:
    camera: str
    from_node: str | None
    to_node: str | None
    at: datetime
    why: str
