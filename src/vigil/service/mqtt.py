"""MQTT output of `vigil serve`: events, per-camera counters and availability, Home Assistant
discovery.

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

With `MqttSettings.discovery_prefix` (``homeassistant``), retained Home Assistant discovery
configs describe one device per camera: a ``sensor`` per counter, an ``event`` entity fired by
every event of the camera (``event_type`` = the app's name), a ``binary_sensor`` for the
camera's connectivity and one per app with ongoing events. They are published on connection,
when a counter or app is first seen and whenever Home Assistant announces itself on
``<discovery_prefix>/status``. A camera removed from the site while the service runs
(`MqttPublisher.set_cameras`) loses its entities: empty retained payloads on its discovery
topics and its counter and ongoing topics, its availability ``offline``. One removed while
the service was stopped is found on connection among the broker's retained discovery configs
under this topic prefix (a device that is no camera of the site): those configs are deleted
and its availability set ``offline``. Likewise an app removed from a camera loses its counter
and ongoing topics and their entities.

An app has at most `MAX_COUNTERS` counters here (the first names it reported): one that
invents a name per frame cannot fill the broker with retained topics (the app boundary,
`vigil.apps.boundary`, caps them too; this holds whatever a status carries).

Retained state is cached and republished in full on every (re)connection, so a broker that
restarted without persistence gets it all back. It goes out at QoS 0 on purpose: paho resends
QoS>0 messages queued while disconnected *after* whatever is published from the connect
callback, which could let an old counter value overwrite the fresh one; at QoS 0 nothing stale
is ever resent, and the republish-on-connect gives the delivery guarantee instead. Events and
the availability of the service (and its last will) use `MqttSettings.qos`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

import vigil
from vigil.apps.boundary import MAX_COUNTERS
from vigil.events.event import json_value
from vigil.service.hub import Hub, Subscription
from vigil.service.messages import CameraStatus, EventMessage, event_to_dict

log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
#: Topic level of the "an event of this app is open" state, beside the app's counters.
ONGOING = "ongoing"


class MqttSettings(BaseModel):
    """The ``mqtt:`` section of the site YAML."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    client_id: str = "vigil"
    topic_prefix: str = "vigil"
    discovery_prefix: str | None = Field(
        None, description='Home Assistant discovery prefix, usually "homeassistant"; off when unset'
    )
    qos: int = Field(1, ge=0, le=2, description="QoS of events and of the service availability")
    tls: bool = False
    keepalive: int = Field(30, ge=5, le=3600, description="seconds")
    reconnect_min_s: float = Field(1.0, gt=0, description="first delay before reconnecting")
    reconnect_max_s: float = Field(30.0, gt=0, description="delay cap (it doubles up to it)")

    @field_validator("topic_prefix", "discovery_prefix")
    @classmethod
    def _topic(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip("/")
        if not value or any(c in value for c in "+#\0"):
            raise ValueError("must be a non-empty MQTT topic without wildcards")
        return value


def slugify(name: str) -> str:
    """A topic level / Home Assistant object id: lower case, runs of anything but [a-z0-9]
    turned into one ``_`` (``"Person In"`` → ``person_in``)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return slug or "_"


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


#: Turns our event JSON into what Home Assistant's MQTT ``event`` entity wants: an object with
#: ``event_type`` (one of ``event_types``) and the other keys as attributes.
_HA_EVENT_TEMPLATE = (
    "{{ {'event_type': value_json.app, 'type': value_json.type, 'state': value_json.state,"
    " 'id': value_json.id, 'class_name': value_json.class_name, 'zone': value_json.zone,"
    " 'line': value_json.line, 'track_id': value_json.track_id,"
    " 'wall_time': value_json.wall_time} | to_json }}"
)


def _device_of(config: str) -> str:
    """The device identifier of one of our discovery configs (JSON)."""
    return json.loads(config)["device"]["identifiers"][0]


def _state_topic(config: str) -> str:
    """The state topic a discovery config (JSON) names ("" for none)."""
    return str(json.loads(config).get("state_topic", ""))


def _no_delay(client: Any, userdata: Any, sock: Any) -> None:
    """Disable Nagle's algorithm: an event is one small packet that must leave at once, not
    wait up to a delayed-ACK period (~40 ms on Linux) behind the previous one."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttPublisher:
    """Publishes the hub's `EventMessage` and `CameraStatus` messages to an MQTT broker.

    paho's network loop runs in its own thread (`loop_start`: connects, reconnects with backoff,
    keeps alive); a second thread takes messages from a hub subscription and publishes them.
    `start()` returns at once, whether the broker is reachable or not.
    """

    def __init__(
        self,
        settings: MqttSettings,
        hub: Hub,
        cameras: Iterable[str],
        apps: Mapping[str, Iterable[str]] | None = None,
    ):
        import paho.mqtt.client as mqtt

        self.settings = settings
        self.hub = hub
        self.prefix = settings.topic_prefix
        self._node = slugify(self.prefix)
        self.availability_topic = f"{self.prefix}/availability"

        self._lock = threading.RLock()  # cache + publish order of retained state
        self._cameras: dict[str, set[str]] = {}  # camera -> its apps (original names)
        self._retained: dict[str, str] = {}  # topic -> payload, republished on connect
        self._discovery: dict[str, str] = {}  # topic -> JSON config, republished on connect
        self._counters: dict[tuple[str, str], set[str]] = {}  # (camera, app) -> counters
        self._ongoing_apps: set[tuple[str, str]] = set()
        self._open: dict[tuple[str, str], set[str]] = {}  # (camera, app) -> open event ids
        #: Cameras removed from the site: their last messages announce nothing again.
        self._removed: set[str] = set()
        self._removed_apps: set[tuple[str, str]] = set()  # (camera, app), likewise
        self._capped: set[tuple[str, str]] = set()  # apps told they have too many counters

        self._subscription: Subscription | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self.events_published = 0
        self.events_failed = 0  # refused by the client (queue full)
        self.connects = 0

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, password)
        if settings.tls:
            client.tls_set()
        client.will_set(self.availability_topic, OFFLINE, qos=settings.qos, retain=True)
        client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)  # type: ignore[arg-type]
        client.max_queued_messages_set(10_000)  # events kept while the broker is away
        client.max_inflight_messages_set(100)
        client.on_socket_open = _no_delay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

        for camera in cameras:
            self._add_camera(camera)
        for camera, names in (apps or {}).items():
            for app in names:
                self._add_app(camera, app)

    # ------------------------------------------------------------------ life cycle

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._subscription = self.hub.subscribe((EventMessage, CameraStatus), maxsize=10_000)
        s = self.settings
        log.info("MQTT: connecting to %s:%d as %r", s.host, s.port, s.client_id)
        self._client.connect_async(s.host, s.port, keepalive=s.keepalive)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="vigil-mqtt", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Publish ``offline`` (service and cameras) and disconnect cleanly."""
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(timeout)
        self._thread = None
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        if self._connected.is_set():
            with self._lock:
                for camera in self._cameras:
                    self._set_state(f"{self.prefix}/{slugify(camera)}/availability", OFFLINE)
            info = self._client.publish(
                self.availability_topic, OFFLINE, qos=self.settings.qos, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def __enter__(self) -> MqttPublisher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ hub side

    def _run(self) -> None:
        assert self._subscription is not None
        while not self._stopping.is_set():
            message = self._subscription.get(timeout=0.2)
            if message is None:
                continue
            try:
                self.handle(message)
            except Exception:  # one bad message must not stop the publisher
                log.exception("MQTT: could not publish %s", type(message).__name__)

    def handle(self, message: object) -> None:
        """Publish one hub message (called from the publisher's thread)."""
        if isinstance(message, EventMessage):
            self._publish_event(message)
        elif isinstance(message, CameraStatus):
            self._publish_status(message)

    def _publish_event(self, message: EventMessage) -> None:
        event = message.event
        camera = event.source
        key = (camera, event.app)
        with self._lock:
            # the last events of a removed camera or app still go out, nothing else
            removed = camera in self._removed or key in self._removed_apps
            if not removed:
                self._add_app(camera, event.app)
            if not removed and event.state in ("start", "update", "end"):
                opened = self._open.setdefault(key, set())
                if event.state == "end":
                    opened.discard(event.id)
                else:
                    opened.add(event.id)
        info = self._client.publish(
            f"{self.prefix}/{slugify(camera)}/events",
            event_payload(message),
            qos=self.settings.qos,
            retain=False,
        )
        if info.rc in (0, 4):  # success, or queued until the connection is back
            self.events_published += 1
        else:
            self.events_failed += 1
            log.warning("MQTT: event %s not queued (rc %s)", event.id, info.rc)
        if event.state != "instant" and not removed:
            with self._lock:
                self._publish_ongoing(camera, event.app)

    def _publish_status(self, status: CameraStatus) -> None:
        camera = status.camera
        cam = slugify(camera)
        with self._lock:
            if camera in self._removed:  # its worker's last report
                return
            self._add_camera(camera)
            if status.state in ("starting", "stopped"):  # a new worker: its apps start afresh
                for (c, app), opened in self._open.items():
                    if c == camera and opened:
                        opened.clear()
                        self._publish_ongoing(c, app)
            self._set_state(
                f"{self.prefix}/{cam}/availability",
                ONLINE if status.state == "online" else OFFLINE,
            )
            for app, counters in status.counters.items():
                if (camera, app) in self._removed_apps:  # a report sent before its removal
                    continue
                self._add_app(camera, app)
                known = self._counters.setdefault((camera, app), set())
                for name, value in counters.items():
                    payload = format_number(value)
                    if payload is None:
                        continue
                    if name not in known:
                        if len(known) >= MAX_COUNTERS:
                            self._too_many_counters(camera, app, name)
                            continue
                        known.add(name)
                        self._discover_counter(camera, app, name)
                    self._set_state(self.counter_topic(camera, app, name), payload)

    def _too_many_counters(self, camera: str, app: str, name: str) -> None:
        if (camera, app) not in self._capped:
            self._capped.add((camera, app))
            log.warning(
                "MQTT: app %s of camera %s has more than %d counters; %s and later ones "
                "are not published", app, camera, MAX_COUNTERS, ascii(name[:40]),
            )  # fmt: skip

    def counter_topic(self, camera: str, app: str, counter: str) -> str:
        level = slugify(counter)
        if level == ONGOING:
            level += "_count"
        return f"{self.prefix}/{slugify(camera)}/{slugify(app)}/{level}"

    def _publish_ongoing(self, camera: str, app: str) -> None:
        if (camera, app) not in self._ongoing_apps:
            self._ongoing_apps.add((camera, app))
            self._discover_ongoing(camera, app)
        on = bool(self._open.get((camera, app)))
        self._set_state(
            f"{self.prefix}/{slugify(camera)}/{slugify(app)}/{ONGOING}", "ON" if on else "OFF"
        )

    # ------------------------------------------------------------------ retained state

    def _set_state(self, topic: str, payload: str) -> None:
        """Cache `payload` as the retained state of `topic`; publish it if it changed."""
        with self._lock:
            if self._retained.get(topic) == payload:
                return
            self._retained[topic] = payload
            self._client.publish(topic, payload, qos=0, retain=True)

    def _set_discovery(self, topic: str, config: dict[str, Any]) -> None:
        payload = json.dumps(config, separators=(",", ":"))
        with self._lock:
            if self._discovery.get(topic) == payload:
                return
            self._discovery[topic] = payload
            self._client.publish(topic, payload, qos=0, retain=True)

    def _republish(self) -> None:
        with self._lock:
            for topic, payload in self._discovery.items():
                self._client.publish(topic, payload, qos=0, retain=True)
            for topic, payload in self._retained.items():
                self._client.publish(topic, payload, qos=0, retain=True)

    def _add_camera(self, camera: str) -> None:
        with self._lock:
            if camera in self._cameras:
                return
            self._cameras[camera] = set()
            self._set_state(f"{self.prefix}/{slugify(camera)}/availability", OFFLINE)
            self._discover_camera(camera)

    def _add_app(self, camera: str, app: str) -> None:
        with self._lock:
            self._add_camera(camera)
            if app in self._cameras[camera]:
                return
            self._cameras[camera].add(app)
            self._discover_events(camera)

    def set_cameras(self, apps: Mapping[str, Iterable[str]]) -> None:
        """The site's cameras (camera -> its app names) after a live change: new cameras
        and apps are announced; cameras no longer in it are forgotten."""
        with self._lock:
            for camera in self._cameras.keys() - apps.keys():
                self._forget_camera(camera)
            for camera, names in apps.items():
                self._removed.discard(camera)
                self._add_camera(camera)
                for app in self._cameras[camera] - set(names):
                    self._forget_app(camera, app)
                for app in names:
                    self._removed_apps.discard((camera, app))
                    self._add_app(camera, app)

    def _forget_app(self, camera: str, app: str) -> None:
        """Remove an app's counter and ongoing topics and their Home Assistant entities."""
        below = f"{self.prefix}/{slugify(camera)}/{slugify(app)}/"
        for topic in [t for t, p in self._discovery.items() if _state_topic(p).startswith(below)]:
            del self._discovery[topic]
            self._client.publish(topic, b"", qos=0, retain=True)  # empty: deleted
        for topic in [t for t in self._retained if t.startswith(below)]:
            del self._retained[topic]
            self._client.publish(topic, b"", qos=0, retain=True)
        key = (camera, app)
        self._cameras[camera].discard(app)
        self._removed_apps.add(key)
        for table in (self._counters, self._open):
            table.pop(key, None)
        self._ongoing_apps.discard(key)
        self._capped.discard(key)
        self._discover_events(camera)  # its event type is gone
        log.info(
            "MQTT: app %s removed from camera %s: its retained topics are cleared", app, camera
        )

    def _forget_camera(self, camera: str) -> None:
        """Remove the camera's Home Assistant entities and retained counters; it stays
        ``offline``."""
        cam = slugify(camera)
        availability = f"{self.prefix}/{cam}/availability"
        self._removed.add(camera)
        del self._cameras[camera]
        device = self._device_id(camera)
        for topic in [t for t, p in self._discovery.items() if _device_of(p) == device]:
            del self._discovery[topic]
            self._client.publish(topic, b"", qos=0, retain=True)  # empty: deleted
        for topic in [t for t in self._retained if t.startswith(f"{self.prefix}/{cam}/")]:
            if topic != availability:
                del self._retained[topic]
                self._client.publish(topic, b"", qos=0, retain=True)
        self._counters = {k: v for k, v in self._counters.items() if k[0] != camera}
        self._ongoing_apps = {k for k in self._ongoing_apps if k[0] != camera}
        self._open = {k: v for k, v in self._open.items() if k[0] != camera}
        self._set_state(availability, OFFLINE)
        log.info("MQTT: camera %s removed from the site: its retained topics are cleared", camera)

    def _discovery_filter(self) -> str:
        """The topic filter of this publisher's discovery configs (any component)."""
        return f"{self.settings.discovery_prefix}/+/{self._node}/+/config"

    def _clear_stale_discovery(self, topic: str, payload: bytes) -> None:
        """A retained discovery config found on the broker at connection: deleted when its
        device is no camera of the site (removed while the service was stopped)."""
        try:
            config = json.loads(payload)
            device = config["device"]
            name, identifier = device["name"], device["identifiers"][0]
        except (ValueError, TypeError, KeyError, IndexError):
            return  # not one of ours
        with self._lock:
            if topic in self._discovery or any(
                identifier == self._device_id(c) for c in self._cameras
            ):
                return
            self._client.publish(topic, b"", qos=0, retain=True)
            self._set_state(f"{self.prefix}/{slugify(name)}/availability", OFFLINE)
        log.info("MQTT: deleted the Home Assistant entity %s of camera %s (not in the site)",
                 topic, name)  # fmt: skip

    # ------------------------------------------------------------------ MQTT callbacks

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT: connection refused by %s: %s", self.settings.host, reason)
            return
        self.connects += 1
        log.info("MQTT: connected to %s:%d", self.settings.host, self.settings.port)
        with self._lock:
            client.publish(self.availability_topic, ONLINE, qos=self.settings.qos, retain=True)
            self._republish()
        if self.settings.discovery_prefix:
            client.subscribe(
                [(f"{self.settings.discovery_prefix}/status", 1), (self._discovery_filter(), 0)]
            )
        self._connected.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("MQTT: disconnected from %s (%s); reconnecting", self.settings.host, reason)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        from paho.mqtt.client import topic_matches_sub

        if (
            self.settings.discovery_prefix
            and message.retain
            and message.payload
            and topic_matches_sub(self._discovery_filter(), message.topic)
        ):
            self._clear_stale_discovery(message.topic, message.payload)
            return
        # Home Assistant's birth message: it (re)started and needs the configs and states again.
        if message.topic == f"{self.settings.discovery_prefix}/status" and message.payload == (
            b"online"
        ):
            log.info("MQTT: Home Assistant is online; republishing discovery")
            self._republish()

    # ------------------------------------------------------------------ discovery

    def _device_id(self, camera: str) -> str:
        return f"{self._node}_{slugify(camera)}"

    def _device(self, camera: str) -> dict[str, Any]:
        return {
            "identifiers": [self._device_id(camera)],
            "name": camera,
            "manufacturer": "Vigil",
            "model": "Vigil camera",
            "sw_version": vigil.__version__,
        }

    def _availability(self, camera: str | None) -> dict[str, Any]:
        topics = [{"topic": self.availability_topic}]
        if camera is not None:
            topics.append({"topic": f"{self.prefix}/{slugify(camera)}/availability"})
        return {"availability": topics, "availability_mode": "all"}

    def _discover(
        self, component: str, camera: str, object_id: str, config: dict[str, Any]
    ) -> None:
        prefix = self.settings.discovery_prefix
        if not prefix:
            return
        object_id = f"{slugify(camera)}_{object_id}"
        config = {
            **config,
            "unique_id": f"{self._node}_{object_id}",
            "device": self._device(camera),
            "origin": {"name": "Vigil", "sw_version": vigil.__version__},
        }
        self._set_discovery(f"{prefix}/{component}/{self._node}/{object_id}/config", config)

    def _discover_camera(self, camera: str) -> None:
        self._discover(
            "binary_sensor",
            camera,
            "connected",
            {
                "name": "Connected",
                "state_topic": f"{self.prefix}/{slugify(camera)}/availability",
                "payload_on": ONLINE,
                "payload_off": OFFLINE,
                "device_class": "connectivity",
                "entity_category": "diagnostic",
                **self._availability(None),
            },
        )

    def _discover_events(self, camera: str) -> None:
        self._discover(
            "event",
            camera,
            "events",
            {
                "name": "Events",
                "state_topic": f"{self.prefix}/{slugify(camera)}/events",
                "event_types": sorted(self._cameras[camera]),
                "value_template": _HA_EVENT_TEMPLATE,
                **self._availability(camera),
            },
        )

    def _discover_counter(self, camera: str, app: str, counter: str) -> None:
        config: dict[str, Any] = {
            "name": f"{app} {counter}",
            "state_topic": self.counter_topic(camera, app, counter),
            "state_class": "measurement",
            **self._availability(camera),
        }
        if "dwell" in counter:  # the loitering app's dwell statistics, in seconds
            config.update(device_class="duration", unit_of_measurement="s")
        self._discover("sensor", camera, f"{slugify(app)}_{slugify(counter)}", config)

    def _discover_ongoing(self, camera: str, app: str) -> None:
        self._discover(
            "binary_sensor",
            camera,
            f"{slugify(app)}_{ONGOING}",
            {
                "name": app,
                "state_topic": f"{self.prefix}/{slugify(camera)}/{slugify(app)}/{ONGOING}",
                **self._availability(camera),
            },
        )
