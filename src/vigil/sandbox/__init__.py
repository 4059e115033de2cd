"""Isolation of third-party (store) apps: each instance runs in a sandboxed process of its own.

`SandboxedApp` is the `App` the pipeline sees (`vigil.sandbox.app`); `SandboxLimits` its
resource limits and supervision policy (`vigil.sandbox.limits`); `vigil.sandbox.bwrap` builds
the bubblewrap command line; `vigil.sandbox.protocol` is what travels over the socket;
`vigil.sandbox.host` is the process inside the sandbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vigil.sandbox.limits import SandboxLimits

if TYPE_CHECKING:
    from vigil.sandbox.app import SandboxedApp

__all__ = ["SandboxLimits", "SandboxedApp"]


def __getattr__(name: str) -> Any:
    # Lazy: the host process (python -m vigil.sandbox.host) never needs the parent side.
    if name == "SandboxedApp":
        from vigil.sandbox.app import SandboxedApp

        return SandboxedApp
    raise AttributeError(name)
