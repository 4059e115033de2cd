"""What an app may require besides Vigil, checked before anything is installed.

Store apps import numpy and pydantic (and Vigil's SDK) from Vigil's own environment: objects of
those packages cross the SDK boundary, so an app must accept the versions Vigil has and must
not ship its own copy. Every other requirement is installed into the app's private ``site``
directory and therefore has to be published with the app (a pinned, hashed wheel in the
catalog). The whole set is resolved here, not by pip, so that a conflict is reported in one
line naming the requirement.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from vigil.appstore import AppStoreError

if TYPE_CHECKING:
    from vigil.appstore.wheel import WheelInfo

SDK_BOUNDARY = ("vigil", "numpy", "pydantic")


def _applies(req: Requirement) -> bool:
    """Whether `req` applies here (markers for this Python/platform, no extras requested)."""
    return req.marker is None or req.marker.evaluate({"extra": ""})


@cache
def shared_packages() -> dict[NormalizedName, Version]:
    """Vigil's versions of the packages shared across the SDK boundary, with everything they
    need (pydantic-core, typing-extensions, …): an app gets these from Vigil."""
    shared: dict[NormalizedName, Version] = {}
    todo = list(SDK_BOUNDARY)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in shared:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        shared[name] = Version(dist.version)
        if name != "vigil":  # Vigil's own dependencies are not all shared with apps
            todo += [r.name for r in map(Requirement, dist.requires or []) if _applies(r)]
    return shared


def check_requirements(
    app_id: str, app: WheelInfo, bundled: Iterable[WheelInfo], *, against_vigil: bool = True
) -> None:
    """AppStoreError in one line if the app (or a wheel bundled with it) needs a shared package
    in a version Vigil does not have, bundles a shared package, or needs a package that is not
    bundled in a matching version. Without `against_vigil` (publishing: the publisher's Vigil
    is not the installer's) shared packages are left to the installer to check."""
    shared = shared_packages()
    bundle = {w.name: w for w in bundled}
    for wheel in bundle.values():
        if (name := canonicalize_name(wheel.name)) in shared:
            raise AppStoreError(
                f"app {app_id!r} bundles {wheel.name} {wheel.version}, which Vigil provides "
                f"({shared[name]}, shared across the SDK boundary)"
            )
    for wheel in (app, *bundle.values()):
        for req in filter(_applies, wheel.requires):
            name = canonicalize_name(req.name)
            if name in shared:
                if against_vigil and not req.specifier.contains(shared[name], prereleases=True):
                    raise AppStoreError(
                        f"app {app_id!r}: {wheel.name} requires {req}, conflicting with "
                        f"Vigil's {name} {shared[name]} (shared across the SDK boundary)"
                    )
            elif name not in bundle:
                raise AppStoreError(
                    f"app {app_id!r}: {wheel.name} requires {req}, which is not published "
                    f"with the app"
                )
            elif not req.specifier.contains(bundle[name].version, prereleases=True):
                raise AppStoreError(
                    f"app {app_id!r}: {wheel.name} requires {req}, but {name} "
                    f"{bundle[name].version} is published with the app"
                )
