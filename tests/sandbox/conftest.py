"""Fixtures of the sandbox tests: store apps installed from the small modules beside this file.

`install(module, ...)` lays an app out as the store does (``<root>/<id>/<version>/site/``),
without a wheel, and returns its `InstalledApp`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sandbox_support import HERE, Installer

from vigil.apps.manifest import AppManifest
from vigil.appstore.installed import InstalledApp


@pytest.fixture
def install(tmp_path: Path) -> Installer:
    def _install(
        module: str,
        cls: str,
        *,
        events: tuple[str, ...] = (),
        data: str = "tracks",
        network: bool = False,
        app_id: str | None = None,
    ) -> InstalledApp:
        name = Path(module).stem
        app_id = app_id or name
        root = tmp_path / "apps" / app_id / "1.0.0"
        site = root / "site"
        site.mkdir(parents=True)
        shutil.copy(HERE / module, site / f"{name}.py")
        manifest = AppManifest(
            id=app_id,
            name=app_id,
            version="1.0.0",
            vendor="tests",
            sdk=">=1.0,<2",
            data=data,
            network=network,
            events=list(events),
            entry_point=f"{name}:{cls}",
        )
        return InstalledApp(manifest, root, site)

    return _install
