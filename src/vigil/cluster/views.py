"""What the head tells the API about the cluster: nodes, assignments, recent moves, and the
error for a file on a node that is down (`vigil.api.cluster` answers it with a 503)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigil.errors import VigilError


class NodeUnavailable(VigilError):
    """A file is on a node that is down (or has left the cluster): the API answers 503."""

    def __init__(self, node: str, what: str = "recording") -> None:
        super().__init__(f"{what} is on node {node!r}, which is down")
        self.node = node
        self.what = what

    def __reduce__(self) -> tuple[type[NodeUnavailable], tuple[str, str]]:
        # Raised on the head's Ray side too: it must cross a pickle with its node intact.
        return NodeUnavailable, (self.node, self.what)


@dataclass(frozen=True)
class NodeView:
    """One Ray node of the site as the head sees it."""

    id: str  # its Vigil name (the Ray label ``vigil-node``)
    alive: bool
    head: bool  # the node the head (API, coordinator) runs on
    address: str
    pids: list[int]  # its Ray node's and Vigil's processes on its host
    cameras: list[str]  # the cameras it holds a lease for
    capacity: int  # cameras
    load: float  # len(cameras) / capacity (0 with no capacity)


@dataclass(frozen=True)
class AssignmentView:
    """A camera's lease: the node that runs it, under which epoch, since when."""

    node: str
    epoch: int
    since: datetime


@dataclass(frozen=True)
class MoveView:
    """A camera that changed node (or lost or gained one), and why (one line)."""

    camera: str
    from_node: str | None
    to_node: str | None
    at: datetime
    why: str
