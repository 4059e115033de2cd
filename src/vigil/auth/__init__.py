"""Accounts, roles, sessions, API tokens and the audit log of the service.

Routers protect their routes with `allow` and record sensitive actions with `audit`::

    from vigil.auth import Principal, allow, audit
"""

from vigil.auth.policy import allow, audit, principal_or_none
from vigil.auth.principal import ROLES, Principal, Role
from vigil.auth.store import AuthError, AuthStore, User

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
