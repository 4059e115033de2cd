"""Video sources: files and network streams decoded into `Frame`s."""

from vigil.sources.frame import Frame

__all__ = ["Frame"]
