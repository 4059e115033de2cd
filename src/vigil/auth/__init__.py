"""Accounts, roles, sessions, API tokens and the audit log of the service.

Routers protect their routes with `allow` and record sensitive actions with `audit`::

    from vigil.auth import Principal, allow, audit

The names below load on first use: a command that only manages users must not pay for
importing the web framework that `policy` needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.auth.policy import allow, audit, principal_or_none
    from vigil.auth.principal import ROLES, Principal, Role
    from vigil.auth.store import AuthError, AuthStore, User

_HOMES = {
    "ROLES": "principal",
    "AuthError": "store",
    "AuthStore": "store",
    "Principal": "principal",
    "Role": "principal",
    "User": "store",
    "allow": "policy",
    "audit": "policy",
    "principal_or_none": "policy",
}

__all__ = [
    "ROLES",
    "AuthError",
    "AuthStore",
    "Principal",
    "Role",
    "User",
    "allow",
    "audit",
    "principal_or_none",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"vigil.auth.{home}"), name)
