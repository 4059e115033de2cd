"""The site configurations the README points to stay valid."""

from __future__ import annotations

from pathlib import Path

from vigil.config.loader import load_config
from vigil.config.site import SiteConfig
from vigil.service.site_plan import validate_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_serve_example_is_a_valid_site():
    site = load_config(EXAMPLES / "serve.yaml", model=SiteConfig, env={"CAM_PASSWORD": "x"})
    validate_site(site)
    assert [c.id for c in site.cameras] == ["entrance", "car-park"]
    assert site.cameras[1].record.mode == "motion"
    assert site.mqtt.enabled and site.mqtt.discovery_prefix == "homeassistant"
    assert site.server.host == "127.0.0.1"
