"""Checking a site before it runs, and what a change of the site file means for its cameras.

`validate_site` lives here rather than beside `SiteConfig` (vigil.config.site): it builds
every camera's apps against a placeholder scene, which needs the app registry and the
pipeline, layers above the configuration.
"""

from __future__ import annotations

from vigil.apps.base import Scene
from vigil.config.site import SiteConfig
from vigil.detection.classes import COCO_CLASSES
from vigil.pipeline.build import check_apps


def validate_site(site: SiteConfig) -> None:
    """Check every camera's apps against a placeholder scene, so a bad app type, setting or
    zone name is reported (with its `cameras[i]` key path) before anything starts; nothing
    is started (a store app's sandbox neither), since every change of the file is checked."""
    for i, camera in enumerate(site.cameras):
        zones = [z.to_zone(name) for name, z in camera.zones.items()]
        lines = [ln.to_line(name) for name, ln in camera.lines.items()]
        scene = Scene.build(1000, 1000, zones, lines, COCO_CLASSES)
        check_apps(camera, scene, site, scope=("cameras", i))
