"""A site whose one camera, ``door``, loops the `walker_clip` past a vertical line counted
by a ``line_crossing`` app named ``crossings`` (each pass: one walker in, one out): for the
tests of app state across restarts."""

from __future__ import annotations

import textwrap
from pathlib import Path

from vigil.config.loader import load_config_text
from vigil.config.site import SiteConfig


def counting_site(
    clip: Path, storage: Path, *, database: str | None = None, occupancy: bool = False
) -> SiteConfig:
    """The site, storing under `storage` (its database there unless `database` is given),
    with an ``occupancy`` app named ``people`` too when `occupancy`."""
    apps = "  - {type: occupancy, name: people}" if occupancy else ""
    db = f", database: {database!r}" if database is not None else ""
    text = textwrap.dedent(
        f"""\
        cameras:
          - id: door
            url: {clip}
            loop: true
            detect_fps: 8
            record: {{mode: "off"}}
            lines:
              middle: {{start: [0.5, 0.0], end: [0.5, 1.0]}}
            apps:
              - {{type: line_crossing, name: crossings, settings: {{line: middle}}}}
            {{apps}}
        detector: {{input_size: [416, 320]}}
        storage: {{directory: {storage}{db}}}
        """
    ).replace("{apps}", apps)
    return load_config_text(text, "site.yaml", model=SiteConfig)
