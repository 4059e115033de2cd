"""The MQTT publisher of `vigil serve`: events, per-camera counters and availability (the
topics are in `vigil.service.mqtt.topics`), Home Assistant discovery (`...discovery`).

With `MqttSettings.discovery_prefix` (``homeassistant``), retained Home Assistant discovery
configs describe one device per camera. They are published on connection,
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
import socket
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from vigil.apps.boundary import MAX_COUNTERS
from vigil.config.site import MqttSettings
from vigil.service.hub import Hub, Subscription
from vigil.service.messages import CameraStatus, EventMessage
from vigil.service.mqtt.discovery import Config, Discovery, device_of, state_topic
from vigil.service.mqtt.topics import OFFLINE, ONLINE, Topics, event_payload, format_number

log = logging.getLogger(__name__)


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
        self.topics = Topics(settings.topic_prefix)
        self.discovery = Discovery(self.topics, settings.discovery_prefix)
        self.availability_topic = self.topics.availability

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
                    self._set_state(self.topics.camera_availability(camera), OFFLINE)
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
            self.topics.events(camera),
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
                self.topics.camera_availability(camera),
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
                        self._announce(self.discovery.counter(camera, app, name))
                    self._set_state(self.topics.counter(camera, app, name), payload)

    def _too_many_counters(self, camera: str, app: str, name: str) -> None:
        if (camera, app) not in self._capped:
            self._capped.add((camera, app))
            log.warning(
                "MQTT: app %s of camera %s has more than %d counters; %s and later ones "
                "are not published", app, camera, MAX_COUNTERS, ascii(name[:40]),
            )  # fmt: skip

    def _publish_ongoing(self, camera: str, app: str) -> None:
        if (camera, app) not in self._ongoing_apps:
            self._ongoing_apps.add((camera, app))
            self._announce(self.discovery.ongoing(camera, app))
        on = bool(self._open.get((camera, app)))
        self._set_state(self.topics.ongoing(camera, app), "ON" if on else "OFF")

    # ------------------------------------------------------------------ retained state

    def _set_state(self, topic: str, payload: str) -> None:
        """Cache `payload` as the retained state of `topic`; publish it if it changed."""
        with self._lock:
            if self._retained.get(topic) == payload:
                return
            self._retained[topic] = payload
            self._client.publish(topic, payload, qos=0, retain=True)

    def _announce(self, discovery: Config | None) -> None:
        """Cache a discovery config as retained; publish it if it changed."""
        if discovery is None:
            return
        topic, config = discovery
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
            self._set_state(self.topics.camera_availability(camera), OFFLINE)
            self._announce(self.discovery.camera(camera))

    def _add_app(self, camera: str, app: str) -> None:
        with self._lock:
            self._add_camera(camera)
            if app in self._cameras[camera]:
                return
            self._cameras[camera].add(app)
            self._announce(self.discovery.events(camera, self._cameras[camera]))

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
        below = self.topics.app(camera, app) + "/"
        for topic in [t for t, p in self._discovery.items() if state_topic(p).startswith(below)]:
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
        self._announce(self.discovery.events(camera, self._cameras[camera]))  # one type less
        log.info(
            "MQTT: app %s removed from camera %s: its retained topics are cleared", app, camera
        )

    def _forget_camera(self, camera: str) -> None:
        """Remove the camera's Home Assistant entities and retained counters; it stays
        ``offline``."""
        availability = self.topics.camera_availability(camera)
        self._removed.add(camera)
        del self._cameras[camera]
        device = self.topics.device_id(camera)
        for topic in [t for t, p in self._discovery.items() if device_of(p) == device]:
            del self._discovery[topic]
            self._client.publish(topic, b"", qos=0, retain=True)  # empty: deleted
        below = self.topics.camera(camera) + "/"
        for topic in [t for t in self._retained if t.startswith(below)]:
            if topic != availability:
                del self._retained[topic]
                self._client.publish(topic, b"", qos=0, retain=True)
        self._counters = {k: v for k, v in self._counters.items() if k[0] != camera}
        self._ongoing_apps = {k for k in self._ongoing_apps if k[0] != camera}
        self._open = {k: v for k, v in self._open.items() if k[0] != camera}
        self._set_state(availability, OFFLINE)
        log.info("MQTT: camera %s removed from the site: its retained topics are cleared", camera)

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
                identifier == self.topics.device_id(c) for c in self._cameras
            ):
                return
            self._client.publish(topic, b"", qos=0, retain=True)
            self._set_state(self.topics.camera_availability(name), OFFLINE)
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
                [(f"{self.settings.discovery_prefix}/status", 1), (self.discovery.config_filter, 0)]
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
            and topic_matches_sub(self.discovery.config_filter, message.topic)
        ):
            self._clear_stale_discovery(message.topic, message.payload)
            return
        # Home Assistant's birth message: it (re)started and needs the configs and states again.
        if message.topic == f"{self.settings.discovery_prefix}/status" and message.payload == (
            b"online"
        ):
            log.info("MQTT: Home Assistant is online; republishing discovery")
            self._republish()
