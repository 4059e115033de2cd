"""What the API asks of the cluster head, and how it reads files that another node recorded.

On a single box (`vigil serve` without a ``cluster:`` section) the app has no `ClusterControl`
and every file it serves is on this machine. On a cluster the head's `ClusterHead`
(`vigil.cluster.head`) implements the protocol: the API shows its nodes, assignments and
moves (``GET /api/cluster``, the System page) and reads each recording, clip source and event
snapshot where it is: directly when the file's node is the head's own (or unknown: a single
box's rows), else through `ClusterControl.node_file`, the internal authenticated channel.
A node that is down answers `NodeUnavailable`, which the API turns into a 503 naming it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from vigil.cluster.views import AssignmentView, MoveView, NodeUnavailable, NodeView
from vigil.privacy.boxes import boxes_path

__all__ = [
    "AssignmentView",
    "ClusterControl",
    "MoveView",
    "NodeFiles",
    "NodeUnavailable",
    "NodeView",
    "segment_node",
]


class ClusterControl(Protocol):
    """What the API asks of the cluster head (`vigil.cluster.head.ClusterHead`)."""

    def cluster_status(self) -> tuple[list[NodeView], dict[str, AssignmentView], list[MoveView]]:
        """The nodes, each camera's assignment and the recent moves (a bounded history).
        Called per request (the camera list asks it too): answer from memory."""
        ...

    def node_file(self, node: str, path: Path) -> Path:
        """A local readable copy (cached) of the file at `path` on `node` (the path as that
        node wrote it: the segment index's, or ``<storage>/nodes/<node>/...``).
        `NodeUnavailable` when the node is down; `FileNotFoundError` when it has no such file."""
        ...

    def local_node(self) -> str | None:
        """The head's own node name: its files are read directly."""
        ...


def segment_node(item: Any) -> str | None:
    """The node that holds a segment's (or an event's snapshot) file: `Segment.node`,
    `Event.node`; None on a single box and for a `SegmentInfo` (this machine's file)."""
    node = getattr(item, "node", None)
    return node if isinstance(node, str) and node else None


class NodeFiles:
    """Reads the site's files where they are: here, or on another node through the head."""

    def __init__(self, cluster: ClusterControl | None) -> None:
        self.cluster = cluster

    def remote(self, node: str | None) -> bool:
        """Whether a file of `node` lives on another node than this one."""
        cluster = self.cluster
        return cluster is not None and node is not None and node != cluster.local_node()

    def path(self, node: str | None, path: str | os.PathLike[str], what: str = "recording") -> Path:
        """A path this process can open for `path` on `node`; `NodeUnavailable` (naming
        what it is) when that node is down, `FileNotFoundError` when it has no such file."""
        if self.cluster is None or not self.remote(node):
            return Path(path)
        assert node is not None
        try:
            return self.cluster.node_file(node, Path(path))
        except NodeUnavailable as err:
            raise NodeUnavailable(err.node, what) from None

    def check_up(self, nodes: Iterable[str | None]) -> None:
        """`NodeUnavailable` for the first remote node of `nodes` that is down or gone
        (before a background export starts copying)."""
        remote = sorted({n for n in nodes if n is not None and self.remote(n)})
        if not remote or self.cluster is None:
            return
        alive = {node.id for node in self.cluster.cluster_status()[0] if node.alive}
        for node in remote:
            if node not in alive:
                raise NodeUnavailable(node)

    def segment(self, segment: Any) -> Any:
        """The segment with a path this process can open (a remote one fetched; one its
        node no longer has is kept as it is, so an export skips it like a local file
        deleted by retention)."""
        node = segment_node(segment)
        if not self.remote(node):
            return segment
        try:
            local = self.path(node, segment.path)
        except FileNotFoundError:
            return segment
        self._fetch_boxes(node, segment.path, local)
        return dataclasses.replace(segment, path=str(local))

    def _fetch_boxes(self, node: str | None, remote: str, local: Path) -> None:
        """The segment's stored boxes beside its local copy, where masked playback looks
        (without them its frames are masked whole)."""
        beside = boxes_path(local)
        if beside.exists():
            return
        try:
            fetched = self.path(node, boxes_path(remote))
        except FileNotFoundError:
            return  # recorded before boxes were kept, or recovered after a crash
        shutil.copyfile(fetched, beside)

    def index(self, index: Any) -> ReadableIndex:
        """`index` (a `SegmentIndexLike`) whose segments can be opened here."""
        return ReadableIndex(index, self)


class ReadableIndex:
    """A segment index whose `between` answers segments with local paths, for the exporters
    (they open ``segment.path``); each remote file is fetched when asked for."""

    def __init__(self, index: Any, files: NodeFiles) -> None:
        self._index = index
        self._files = files

    def between(self, camera: str, start: float, end: float) -> list[Any]:
        return [self._files.segment(s) for s in self._index.between(camera, start, end)]
