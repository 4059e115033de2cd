"""The MQTT topics of a site and what is published on them.

Topics (``<p>`` is `MqttSettings.topic_prefix`; camera, app and counter names are slugified:
``"person in"`` → ``person_in``):

=================================  ========================================  ========
topic                              payload                                   retained
=================================  ========================================  ========
``<p>/availability``               ``online`` / ``offline`` (the last will)  yes
``<p>/<camera>/availability``      ``online`` while the camera's state is    yes
                                   ``online``, else ``offline``
``<p>/<camera>/events``            JSON: `event_to_dict` (``wall_time`` is   no
                                   the capture time of the event's frame)
                                   plus ``published_at`` (wall time of the
                                   hand-over to the MQTT client)
``<p>/<camera>/<app>/<counter>``   the app's counter as a number (``12``,    yes
                                   ``3.5``), published when it changes
``<p>/<camera>/<app>/ongoing``     ``ON`` while one of the app's long-lived  yes
                                   events (start … end) is open, else
                                   ``OFF``; only for apps that emit them
=================================  ========================================  ========
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from vigil.config.site import slugify
from vigil.events.event import json_value
from vigil.service.messages import EventMessage, event_to_dict

ONLINE, OFFLINE = "online", "offline"
#: Topic level of the "an event of this app is open" state, beside the app's counters.
ONGOING = "ongoing"


@dataclass(frozen=True)
class Topics:
    """The topic names under one prefix."""

    prefix: str

    @property
    def node(self) -> str:
        """This service in Home Assistant object ids and discovery topics."""
        return slugify(self.prefix)

    @property
    def availability(self) -> str:
        return f"{self.prefix}/availability"

    def camera(self, camera: str) -> str:
        """The level below which all of a camera's topics are."""
        return f"{self.prefix}/{slugify(camera)}"

    def camera_availability(self, camera: str) -> str:
        return f"{self.camera(camera)}/availability"

    def events(self, camera: str) -> str:
        return f"{self.camera(camera)}/events"

    def app(self, camera: str, app: str) -> str:
        """The level below which an app's counters and ongoing state are."""
        return f"{self.camera(camera)}/{slugify(app)}"

    def counter(self, camera: str, app: str, counter: str) -> str:
        level = slugify(counter)
        if level == ONGOING:
            level += "_count"
        return f"{self.app(camera, app)}/{level}"

    def ongoing(self, camera: str, app: str) -> str:
        return f"{self.app(camera, app)}/{ONGOING}"

    def device_id(self, camera: str) -> str:
        """A camera's Home Assistant device identifier."""
        return f"{self.node}_{slugify(camera)}"


def format_number(value: float) -> str | None:
    """A counter as MQTT payload: integers without ``.0``; None for NaN and infinities."""
    value = float(value)
    if not math.isfinite(value):
        return None
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def event_payload(message: EventMessage, published_at: float | None = None) -> bytes:
    """The JSON published on ``<prefix>/<camera>/events``."""
    body = event_to_dict(message)
    body["published_at"] = time.time() if published_at is None else published_at
    return json.dumps(body, default=json_value, separators=(",", ":")).encode()
