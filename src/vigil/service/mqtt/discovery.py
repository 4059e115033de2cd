"""Home Assistant MQTT discovery: the retained configs that describe one device per camera.

A ``sensor`` per counter, an ``event`` entity fired by every event of the camera
(``event_type`` = the app's name), a ``binary_sensor`` for the camera's connectivity and one
per app with ongoing events. Pure: each function returns the discovery topic and its config
(None when discovery is off); `vigil.service.mqtt.publisher` caches and publishes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import vigil
from vigil.config.site import slugify
from vigil.service.mqtt.topics import OFFLINE, ONGOING, ONLINE, Topics

#: Turns our event JSON into what Home Assistant's MQTT ``event`` entity wants: an object with
#: ``event_type`` (one of ``event_types``) and the other keys as attributes.
HA_EVENT_TEMPLATE = (
    "{{ {'event_type': value_json.app, 'type': value_json.type, 'state': value_json.state,"
    " 'id': value_json.id, 'class_name': value_json.class_name, 'zone': value_json.zone,"
    " 'line': value_json.line, 'track_id': value_json.track_id,"
    " 'wall_time': value_json.wall_time} | to_json }}"
)

Config = tuple[str, dict[str, Any]]  # discovery topic, config


def device_of(config: str) -> str:
    """The device identifier of one of our discovery configs (JSON)."""
    return json.loads(config)["device"]["identifiers"][0]


def state_topic(config: str) -> str:
    """The state topic a discovery config (JSON) names ("" for none)."""
    return str(json.loads(config).get("state_topic", ""))


@dataclass(frozen=True)
class Discovery:
    """The configs of one publisher: its topics, under Home Assistant's `prefix` (None: off)."""

    topics: Topics
    prefix: str | None

    @property
    def config_filter(self) -> str:
        """The topic filter of this publisher's discovery configs (any component)."""
        return f"{self.prefix}/+/{self.topics.node}/+/config"

    def camera(self, camera: str) -> Config | None:
        return self._config(
            "binary_sensor",
            camera,
            "connected",
            {
                "name": "Connected",
                "state_topic": self.topics.camera_availability(camera),
                "payload_on": ONLINE,
                "payload_off": OFFLINE,
                "device_class": "connectivity",
                "entity_category": "diagnostic",
                **self._availability(None),
            },
        )

    def events(self, camera: str, apps: Iterable[str]) -> Config | None:
        return self._config(
            "event",
            camera,
            "events",
            {
                "name": "Events",
                "state_topic": self.topics.events(camera),
                "event_types": sorted(apps),
                "value_template": HA_EVENT_TEMPLATE,
                **self._availability(camera),
            },
        )

    def counter(self, camera: str, app: str, counter: str) -> Config | None:
        config: dict[str, Any] = {
            "name": f"{app} {counter}",
            "state_topic": self.topics.counter(camera, app, counter),
            "state_class": "measurement",
            **self._availability(camera),
        }
        if "dwell" in counter:  # the loitering app's dwell statistics, in seconds
            config.update(device_class="duration", unit_of_measurement="s")
        return self._config("sensor", camera, f"{slugify(app)}_{slugify(counter)}", config)

    def ongoing(self, camera: str, app: str) -> Config | None:
        return self._config(
            "binary_sensor",
            camera,
            f"{slugify(app)}_{ONGOING}",
            {
                "name": app,
                "state_topic": self.topics.ongoing(camera, app),
                **self._availability(camera),
            },
        )

    def _device(self, camera: str) -> dict[str, Any]:
        return {
            "identifiers": [self.topics.device_id(camera)],
            "name": camera,
            "manufacturer": "Vigil",
            "model": "Vigil camera",
            "sw_version": vigil.__version__,
        }

    def _availability(self, camera: str | None) -> dict[str, Any]:
        topics = [{"topic": self.topics.availability}]
        if camera is not None:
            topics.append({"topic": self.topics.camera_availability(camera)})
        return {"availability": topics, "availability_mode": "all"}

    def _config(
        self, component: str, camera: str, object_id: str, config: dict[str, Any]
    ) -> Config | None:
        if not self.prefix:
            return None
        node = self.topics.node
        object_id = f"{slugify(camera)}_{object_id}"
        config = {
            **config,
            "unique_id": f"{node}_{object_id}",
            "device": self._device(camera),
            "origin": {"name": "Vigil", "sw_version": vigil.__version__},
        }
        return f"{self.prefix}/{component}/{node}/{object_id}/config", config
