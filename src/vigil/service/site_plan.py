"""Checking a site before it runs, and what a change of the site file means for its cameras.

`validate_site` lives here rather than beside `SiteConfig` (vigil.config.site): it builds
every camera's apps against a placeholder scene, which needs the app registry and the
pipeline, layers above the configuration.

`plan_site_change` is pure: from the running site and the new one it says which cameras'
workers start, stop, restart (settings beyond the scene changed: source, recording, rates)
or get the new scene on their control pipe without a restart (zones, lines, apps only), and
which shared sections (detector, storage, server, MQTT, ...) wait for the next start. The
supervisor carries the plan out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from vigil.apps.base import Scene
from vigil.config.loader import load_config_text
from vigil.config.site import CameraConfig, SiteConfig
from vigil.detection.classes import COCO_CLASSES
from vigil.pipeline.build import check_apps

#: What a worker applies without a restart (`vigil.service.messages.Reconfigure`).
SCENE_FIELDS = frozenset({"zones", "lines", "apps"})


def validate_site_text(text: str, file: str | os.PathLike[str]) -> SiteConfig:
    """The site in `text`, checked exactly as `vigil serve` checks its file at start."""
    site = load_config_text(text, file, model=SiteConfig)
    validate_site(site)
    return site


def validate_site(site: SiteConfig) -> None:
    """Check every camera's apps against a placeholder scene, so a bad app type, setting or
    zone name is reported (with its `cameras[i]` key path) before anything starts; nothing
    is started (a store app's sandbox neither), since every change of the file is checked."""
    for i, camera in enumerate(site.cameras):
        zones = [z.to_zone(name) for name, z in camera.zones.items()]
        lines = [ln.to_line(name) for name, ln in camera.lines.items()]
        scene = Scene.build(1000, 1000, zones, lines, COCO_CLASSES)
        check_apps(camera, scene, site, scope=("cameras", i))


@dataclass(frozen=True)
class SitePlan:
    """What to do to go from the running site to a new one (camera ids, in site order)."""

    site: SiteConfig  # the site to run: the new cameras, the running shared sections
    start: tuple[str, ...] = ()  # enabled now, not before (added, or enabled)
    stop: tuple[str, ...] = ()  # enabled before, not now (removed, or disabled)
    restart: tuple[str, ...] = ()  # settings beyond the scene changed
    reconfigure: tuple[str, ...] = ()  # only the scene changed
    held: tuple[str, ...] = ()  # shared sections that changed: they apply at the next start

    @property
    def changes_cameras(self) -> bool:
        return bool(self.start or self.stop or self.restart or self.reconfigure)


def plan_site_change(old: SiteConfig, new: SiteConfig) -> SitePlan:
    """The plan from `old` (running) to `new` (validated); see the module docstring."""
    held = tuple(
        k for k in SiteConfig.model_fields if k != "cameras" and getattr(new, k) != getattr(old, k)
    )
    site = new.model_copy(update={k: getattr(old, k) for k in held})
    before = {c.id: c for c in old.cameras if c.enabled}
    after = {c.id: c for c in new.cameras if c.enabled}
    restart: list[str] = []
    reconfigure: list[str] = []
    for camera_id, camera in after.items():
        previous = before.get(camera_id)
        if previous is None or previous == camera:
            continue
        if beyond_scene(previous) != beyond_scene(camera):
            restart.append(camera_id)
        else:
            reconfigure.append(camera_id)
    return SitePlan(
        site=site,
        start=tuple(c for c in after if c not in before),
        stop=tuple(c for c in before if c not in after),
        restart=tuple(restart),
        reconfigure=tuple(reconfigure),
        held=held,
    )


def beyond_scene(camera: CameraConfig) -> dict[str, Any]:
    """A camera's settings other than its scene: a change here restarts its worker."""
    return camera.model_dump(exclude=set(SCENE_FIELDS))
