"""MQTT publisher against a real mosquitto broker, watched by a real paho client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from pydantic import ValidationError

from vigil.apps.boundary import MAX_COUNTERS
from vigil.config.site import MqttSettings, slugify
from vigil.events.event import Event
from vigil.service.hub import Hub
from vigil.service.messages import CameraStatus, EventMessage
from vigil.service.mqtt.publisher import MqttPublisher
from vigil.service.mqtt.topics import format_number

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 5.0


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    time: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        return self.payload.decode()

    def json(self) -> dict:
        return json.loads(self.payload)


class Listener:
    """A real MQTT client that records everything it receives on `topics`."""

    def __init__(self, host: str, port: int, topics: tuple[str, ...] = ("vigil/#",)):
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"listener-{id(self)}")
        client.on_message = self._on_message
        client.on_subscribe = lambda *a: self._subscribed.set()
        client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
        client.connect(host, port)
        client.loop_start()
        assert self._subscribed.wait(TIMEOUT), "listener could not subscribe"
        self.client = client

    def _on_message(self, client, userdata, message) -> None:
        with self._cond:
            self.messages.append(Received(message.topic, message.payload, bool(message.retain)))
            self._cond.notify_all()

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(
        self, topic: str, check: Callable[[Received], bool] = lambda m: True, timeout=TIMEOUT
    ) -> Received:
        """The first message (received so far or later) on `topic` that passes `check`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages:
                    if m.topic == topic and check(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({m.topic for m in self.messages})
                    raise AssertionError(f"nothing matching on {topic} after {timeout} s; {seen}")
                self._cond.wait(left)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def listen(mqtt_broker) -> Iterator[Callable[..., Listener]]:
    listeners: list[Listener] = []

    def make(*topics: str) -> Listener:
        listener = Listener(mqtt_broker.host, mqtt_broker.port, topics or ("vigil/#",))
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.close()


def settings_for(broker, **overrides) -> MqttSettings:
    values = dict(
        enabled=True,
        host=broker.host,
        port=broker.port,
        client_id="vigil-test",
        reconnect_min_s=0.1,
        reconnect_max_s=0.5,
    )
    values.update(overrides)
    return MqttSettings(**values)


@pytest.fixture
def hub() -> Hub:
    return Hub()


@pytest.fixture
def publisher(mqtt_broker, hub) -> Iterator[MqttPublisher]:
    pub = MqttPublisher(
        settings_for(mqtt_broker, discovery_prefix="homeassistant"),
        hub,
        cameras=["gate", "Back Yard"],
        apps={"gate": ["walkers", "loiter"]},
    )
    pub.start()
    assert pub.wait_connected(TIMEOUT)
    yield pub
    pub.stop()


def event(camera="gate", app="walkers", state="instant", **kw) -> Event:
    defaults = dict(
        type="line_crossing",
        start_time=1.5,
        frame_index=15,
        track_id=7,
        class_id=0,
        class_name="person",
        line="door",
        attributes={"direction": "in"},
    )
    defaults.update(kw)
    return Event(source=camera, app=app, state=state, **defaults)


def status(camera="gate", state="online", counters=None) -> CameraStatus:
    return CameraStatus(camera=camera, state=state, wall_time=time.time(), counters=counters or {})


# --------------------------------------------------------------------------- units


def test_settings_defaults_and_validation():
    s = MqttSettings()
    assert (s.enabled, s.host, s.port, s.topic_prefix, s.qos) == (
        False,
        "127.0.0.1",
        1883,
        "vigil",
        1,
    )
    assert s.discovery_prefix is None and s.tls is False
    assert MqttSettings(topic_prefix="site/a/", password="x").topic_prefix == "site/a"
    assert "hunter2" not in repr(MqttSettings(password="hunter2"))
    for bad in ({"topic_prefix": "a/#"}, {"qos": 3}, {"brokr": "x"}, {"discovery_prefix": ""}):
        with pytest.raises(ValidationError):
            MqttSettings(**bad)


def test_slugs_and_numbers():
    assert slugify("person in") == "person_in"
    assert slugify("Back Yard") == "back_yard"
    assert slugify("mean dwell") == "mean_dwell"
    assert format_number(12.0) == "12"
    assert format_number(3.5) == "3.5"
    assert format_number(np.float32(2.0)) == "2"
    assert format_number(float("nan")) is None


# --------------------------------------------------------------------------- broker


def test_availability_is_retained_and_camera_follows_status(publisher, hub, listen):
    early = listen()
    assert early.wait_for("vigil/availability").text == "online"
    assert early.wait_for("vigil/gate/availability").text == "offline"  # no status yet
    assert early.wait_for("vigil/back_yard/availability").text == "offline"

    hub.publish(status("gate", "online"))
    early.wait_for("vigil/gate/availability", lambda m: m.text == "online")

    late = listen()  # subscribes after the fact: gets the retained state
    assert late.wait_for("vigil/availability").retain
    assert late.wait_for("vigil/availability").text == "online"
    got = late.wait_for("vigil/gate/availability")
    assert (got.text, got.retain) == ("online", True)

    hub.publish(status("gate", "reconnecting"))
    early.wait_for("vigil/gate/availability", lambda m: m.text == "offline" and not m.retain)

    publisher.stop()  # clean stop: offline, retained
    after = listen()
    assert after.wait_for("vigil/availability").text == "offline"
    assert after.wait_for("vigil/gate/availability").text == "offline"


def test_event_json(publisher, hub, listen):
    listener = listen()
    wall = time.time() - 0.05
    message = EventMessage(event(attributes={"direction": "in", "speed": np.float32(1.5)}), wall)
    message.snapshot = "/tmp/snap.jpg"
    hub.publish(message)
    got = listener.wait_for("vigil/gate/events")
    assert not got.retain
    body = got.json()
    assert body["id"] == message.event.id
    assert body["camera"] == "gate" and body["app"] == "walkers"
    assert body["type"] == "line_crossing" and body["state"] == "instant"
    assert body["class_name"] == "person" and body["line"] == "door" and body["track_id"] == 7
    assert body["attributes"] == {"direction": "in", "speed": 1.5}
    assert body["snapshot"] is True
    assert body["wall_time"] == pytest.approx(wall, abs=1e-6)  # capture time of the frame
    assert wall < body["published_at"] <= got.time
    # events of an unknown camera go out too, under its slug
    hub.publish(EventMessage(event(camera="Side Door"), time.time()))
    listener.wait_for("vigil/side_door/events")


def test_counters_retained_and_only_on_change(publisher, hub, listen):
    listener = listen()
    counts = {"walkers": {"person in": 12.0, "person out": 3.0}, "loiter": {"mean dwell": 4.25}}
    for _ in range(3):
        hub.publish(status(counters=counts))
    hub.publish(status(counters={**counts, "walkers": {"person in": 13.0, "person out": 3.0}}))
    hub.publish(EventMessage(event(), time.time()))  # a marker: everything before it is out
    listener.wait_for("vigil/gate/events")

    assert [m.text for m in listener.on("vigil/gate/walkers/person_in")] == ["12", "13"]
    assert [m.text for m in listener.on("vigil/gate/walkers/person_out")] == ["3"]
    assert [m.text for m in listener.on("vigil/gate/loiter/mean_dwell")] == ["4.25"]

    late = listen()
    got = late.wait_for("vigil/gate/walkers/person_in")
    assert (got.text, got.retain) == ("13", True)


def test_ongoing_events(publisher, hub, listen):
    listener = listen()
    topic = "vigil/gate/loiter/ongoing"
    start = event(app="loiter", type="loitering", state="start", line=None)
    hub.publish(EventMessage(start, time.time()))
    assert listener.wait_for(topic).text == "ON"
    hub.publish(EventMessage(event(app="loiter", state="update", id=start.id), time.time()))
    end = event(app="loiter", type="loitering", state="end", id=start.id, end_time=9.0)
    hub.publish(EventMessage(end, time.time()))
    listener.wait_for(topic, lambda m: m.text == "OFF")
    assert [m.text for m in listener.on(topic)] == ["ON", "OFF"]
    # a restarted worker forgets its open events
    hub.publish(EventMessage(event(app="loiter", state="start"), time.time()))
    listener.wait_for(topic, lambda m: len(listener.on(topic)) == 3)
    hub.publish(status(state="starting"))
    listener.wait_for(topic, lambda m: len(listener.on(topic)) == 4 and m.text == "OFF")


def test_home_assistant_discovery(publisher, hub, listen):
    hub.publish(status(counters={"walkers": {"person in": 1.0}, "loiter": {"max dwell": 2.0}}))
    hub.publish(EventMessage(event(app="loiter", state="start"), time.time()))
    listen().wait_for("vigil/gate/loiter/ongoing")  # the last of it is out
    listener = listen("homeassistant/#")  # so this one gets the retained configs
    base = "homeassistant/{}/vigil/{}/config"

    sensor = listener.wait_for(base.format("sensor", "gate_walkers_person_in"))
    assert sensor.retain
    config = sensor.json()
    assert config["state_topic"] == "vigil/gate/walkers/person_in"
    assert config["unique_id"] == "vigil_gate_walkers_person_in"
    assert config["availability"] == [
        {"topic": "vigil/availability"},
        {"topic": "vigil/gate/availability"},
    ]
    assert config["availability_mode"] == "all"
    assert config["state_class"] == "measurement"
    assert config["device"]["identifiers"] == ["vigil_gate"]
    assert config["device"]["name"] == "gate"
    assert config["name"] == "walkers person in"

    dwell = listener.wait_for(base.format("sensor", "gate_loiter_max_dwell")).json()
    assert dwell["unit_of_measurement"] == "s" and dwell["device_class"] == "duration"

    events = listener.wait_for(base.format("event", "gate_events")).json()
    assert events["state_topic"] == "vigil/gate/events"
    assert events["event_types"] == ["loiter", "walkers"]
    assert "event_type" in events["value_template"]
    assert events["device"]["identifiers"] == ["vigil_gate"]

    connected = listener.wait_for(base.format("binary_sensor", "back_yard_connected")).json()
    assert connected["state_topic"] == "vigil/back_yard/availability"
    assert (connected["payload_on"], connected["payload_off"]) == ("online", "offline")
    assert connected["device_class"] == "connectivity"
    assert connected["device"]["name"] == "Back Yard"

    ongoing = listener.wait_for(base.format("binary_sensor", "gate_loiter_ongoing")).json()
    assert ongoing["state_topic"] == "vigil/gate/loiter/ongoing"

    unique_ids = [json.loads(m.payload)["unique_id"] for m in listener.messages]
    assert len(unique_ids) == len(set(unique_ids))

    # an app seen for the first time updates the event entity's types
    hub.publish(EventMessage(event(app="wrongway"), time.time()))
    listener.wait_for(
        base.format("event", "gate_events"),
        lambda m: m.json()["event_types"] == ["loiter", "walkers", "wrongway"],
    )

    # Home Assistant's birth message brings everything again
    n = len(listener.on(base.format("sensor", "gate_walkers_person_in")))
    listener.client.publish("homeassistant/status", "online")
    listener.wait_for(
        base.format("sensor", "gate_walkers_person_in"),
        lambda m: len(listener.on(m.topic)) > n,
    )


def test_no_discovery_without_prefix(mqtt_broker, hub, listen):
    listener = listen("homeassistant/#", "vigil/#")
    with MqttPublisher(settings_for(mqtt_broker), hub, ["gate"]) as pub:
        assert pub.wait_connected(TIMEOUT)
        hub.publish(status(counters={"walkers": {"person in": 1.0}}))
        listener.wait_for("vigil/gate/walkers/person_in")
    assert not [m for m in listener.messages if m.topic.startswith("homeassistant/")]


def retained_now(listen, *topics: str, until: str) -> dict[str, str]:
    """Retained messages on the broker now (topic -> payload): what a new subscriber gets,
    once it has the retained message on `until` (a moment more for the rest)."""
    listener = listen(*topics)
    listener.wait_for(until)
    time.sleep(0.3)
    return {m.topic: m.text for m in listener.messages if m.retain}


HA = "homeassistant/{}/vigil/{}/config"


def test_camera_removed_at_runtime_loses_its_entities(publisher, hub, listen):
    hub.publish(status(counters={"walkers": {"person in": 3.0}}))
    hub.publish(EventMessage(event(app="loiter", state="start"), time.time()))
    live = listen("vigil/#", "homeassistant/#")
    live.wait_for("vigil/gate/loiter/ongoing")
    before = retained_now(listen, "homeassistant/#", until=HA.format("event", "gate_events"))
    gate = {t for t in before if "/vigil/gate_" in t}
    assert gate == {
        HA.format("binary_sensor", "gate_connected"),
        HA.format("event", "gate_events"),
        HA.format("sensor", "gate_walkers_person_in"),
        HA.format("binary_sensor", "gate_loiter_ongoing"),
    }

    publisher.set_cameras({"Back Yard": []})  # the live config removed gate
    for topic in gate:
        live.wait_for(topic, lambda m: m.payload == b"")
    # The worker's last report and event: out on the events topic, nothing announced again.
    hub.publish(EventMessage(event(app="loiter", state="end"), time.time()))
    hub.publish(status(state="stopped", counters={"walkers": {"person in": 4.0}}))
    hub.publish(status("Back Yard", counters={"people": {"count": 1.0}}))
    live.wait_for("vigil/back_yard/people/count")  # published after gate's last messages
    live.wait_for("vigil/gate/events", lambda m: m.json()["state"] == "end")

    after = retained_now(
        listen,
        "homeassistant/#",
        "vigil/#",
        until=HA.format("binary_sensor", "back_yard_connected"),
    )
    assert not [t for t in after if "/vigil/gate_" in t]
    assert after["vigil/gate/availability"] == "offline"
    assert "vigil/gate/walkers/person_in" not in after
    assert "vigil/gate/loiter/ongoing" not in after
    assert after["vigil/back_yard/people/count"] == "1"

    publisher.set_cameras({"gate": ["walkers"], "Back Yard": []})  # and added back
    live.wait_for(HA.format("binary_sensor", "gate_connected"), lambda m: m.payload != b"")
    hub.publish(status(counters={"walkers": {"person in": 5.0}}))
    live.wait_for(HA.format("sensor", "gate_walkers_person_in"), lambda m: m.payload != b"")
    live.wait_for("vigil/gate/availability", lambda m: m.text == "online")


def test_an_app_inventing_counters_is_capped_and_cleared_when_removed(publisher, hub, listen):
    """An app whose counter names change on every frame (seen in the field: 4,634 retained
    configs and states in 90 s) gets MAX_COUNTERS of them; removing the app clears them."""
    for frame in range(300):
        hub.publish(status(counters={"walkers": {f"visitor {frame}": 1.0, "person in": 2.0}}))
    hub.publish(status(counters={"loiter": {"mean dwell": 1.0}}))
    live = listen("vigil/#", "homeassistant/#")
    live.wait_for("vigil/gate/loiter/mean_dwell")
    before = retained_now(
        listen, "homeassistant/#", "vigil/#", until=HA.format("sensor", "gate_loiter_mean_dwell")
    )
    walkers = [t for t in before if t.startswith("vigil/gate/walkers/")]
    sensors = [t for t in before if "/vigil/gate_walkers_" in t]
    assert len(walkers) == len(sensors) == MAX_COUNTERS
    assert "vigil/gate/walkers/person_in" in walkers  # an early name keeps its topic

    publisher.set_cameras({"gate": ["loiter"], "Back Yard": []})  # walkers removed, live
    for topic in walkers + sensors:
        live.wait_for(topic, lambda m: m.payload == b"")
    # the worker's last report, sent before it dropped the app, announces nothing again
    hub.publish(status(counters={"walkers": {"person in": 3.0}, "loiter": {"mean dwell": 2.0}}))
    live.wait_for("vigil/gate/loiter/mean_dwell", lambda m: m.text == "2")
    after = retained_now(
        listen, "homeassistant/#", "vigil/#", until=HA.format("sensor", "gate_loiter_mean_dwell")
    )
    assert not [t for t in after if "walkers" in t], sorted(after)
    events = json.loads(after[HA.format("event", "gate_events")])
    assert events["event_types"] == ["loiter"]
    assert after["vigil/gate/loiter/mean_dwell"] == "2"


def test_camera_removed_while_stopped_is_cleared_at_start(mqtt_broker, hub, listen):
    ha = settings_for(mqtt_broker, discovery_prefix="homeassistant")
    with MqttPublisher(ha, hub, ["gate", "Back Yard"]) as first:
        assert first.wait_connected(TIMEOUT)
        hub.publish(status(counters={"walkers": {"person in": 2.0}}))
        listen().wait_for("vigil/gate/walkers/person_in")
    live = listen("vigil/#", "homeassistant/#")
    live.wait_for(HA.format("sensor", "gate_walkers_person_in"))  # retained on the broker

    # Started again with a site without gate.
    with MqttPublisher(ha, Hub(), ["Back Yard"]) as second:
        assert second.wait_connected(TIMEOUT)
        for kind, entity in (("binary_sensor", "gate_connected"), ("event", "gate_events"),
                             ("sensor", "gate_walkers_person_in")):  # fmt: skip
            live.wait_for(HA.format(kind, entity), lambda m: m.payload == b"")
        after = retained_now(
            listen,
            "homeassistant/#",
            "vigil/#",
            until=HA.format("binary_sensor", "back_yard_connected"),
        )
    assert not [t for t in after if "/vigil/gate_" in t]
    assert after["vigil/gate/availability"] == "offline"


def test_serve_removing_a_camera_from_the_site_file_deletes_its_entities(
    mqtt_broker, listen, tmp_path: Path, tiny_models: Path
):
    from rtsp.harness import write_clip
    from service.test_serve_e2e import printed_url, start_service, stop_process, wait_for

    clip = write_clip(tmp_path / "clip.mp4", 416, 320, 15, 2)
    camera = "  - {{id: {}, url: {}, loop: true, detect_fps: 2, record: {{mode: 'off'}}}}\n"
    head = "cameras:\n"
    tail = textwrap.dedent(
        f"""\
        detector: {{input_size: [416, 320]}}
        storage: {{directory: {tmp_path / "data"}}}
        server: {{host: 127.0.0.1, port: 0}}
        mqtt: {{enabled: true, host: {mqtt_broker.host}, port: {mqtt_broker.port},
               client_id: vigil-serve, discovery_prefix: homeassistant}}
        """
    )
    site = tmp_path / "site.yaml"
    site.write_text(head + camera.format("gate", clip) + camera.format("yard", clip) + tail)
    live = listen("vigil/#", "homeassistant/#")
    process, stdout, log = start_service(["serve", "-c", str(site)], tmp_path, tiny_models)
    try:
        printed_url(process, stdout, log)
        live.wait_for(HA.format("binary_sensor", "yard_connected"), timeout=30)
        live.wait_for("vigil/yard/availability", lambda m: m.text == "online", timeout=30)

        site.write_text(head + camera.format("gate", clip) + tail)  # yard removed, live
        wait_for(
            lambda: [
                m for m in live.on(HA.format("binary_sensor", "yard_connected")) if not m.payload
            ],
            30,
            "yard's discovery config deleted",
            log=log,
        )
        live.wait_for("vigil/yard/availability", lambda m: m.text == "offline")
        assert process.poll() is None
    finally:
        stop_process(process)


PUBLISHER_SCRIPT = """
import sys, time
from vigil.service.hub import Hub
from vigil.service.messages import CameraStatus
from vigil.config.site import MqttSettings
from vigil.service.mqtt.publisher import MqttPublisher

hub = Hub()
settings = MqttSettings(enabled=True, host="127.0.0.1", port=int(sys.argv[1]), client_id="vigil-child")
pub = MqttPublisher(settings, hub, ["gate"])
pub.start()
assert pub.wait_connected(10)
hub.publish(CameraStatus(camera="gate", state="online", wall_time=time.time()))
print("ready", flush=True)
time.sleep(60)
"""


def test_last_will_when_the_publisher_dies(mqtt_broker, listen):
    listener = listen()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PUBLISHER_SCRIPT), str(mqtt_broker.port)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        listener.wait_for("vigil/availability", lambda m: m.text == "online")
        listener.wait_for("vigil/gate/availability", lambda m: m.text == "online")
        killed = time.time()
        child.send_signal(signal.SIGKILL)  # no clean disconnect: the broker sends the will
        child.wait(TIMEOUT)
        got = listener.wait_for("vigil/availability", lambda m: m.text == "offline")
        assert got.time - killed < 2
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    late = listen()
    got = late.wait_for("vigil/availability")
    assert (got.text, got.retain) == ("offline", True)


def test_broker_restart_republishes_retained_state(publisher, mqtt_broker, hub, listen):
    counts = {"walkers": {"person in": 5.0}}
    hub.publish(status(counters=counts))
    first = listen("vigil/#", "homeassistant/#")
    first.wait_for("vigil/gate/walkers/person_in", lambda m: m.text == "5")
    first.close()

    connects = publisher.connects
    mqtt_broker.restart()  # no persistence: the broker forgot every retained message
    deadline = time.monotonic() + 10
    while publisher.connects == connects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert publisher.connects > connects, "publisher did not reconnect"

    after = listen("vigil/#", "homeassistant/#")
    assert after.wait_for("vigil/availability").text == "online"
    assert after.wait_for("vigil/gate/availability").text == "online"
    assert after.wait_for("vigil/gate/walkers/person_in").text == "5"
    after.wait_for("homeassistant/sensor/vigil/gate_walkers_person_in/config")
    assert all(m.retain for m in after.messages)

    # and it goes on publishing
    hub.publish(status(counters={"walkers": {"person in": 6.0}}))
    after.wait_for("vigil/gate/walkers/person_in", lambda m: m.text == "6")
    hub.publish(EventMessage(event(), time.time()))
    after.wait_for("vigil/gate/events")


def test_events_while_broker_down_are_delivered_after(publisher, mqtt_broker, hub, listen):
    mqtt_broker.stop()
    deadline = time.monotonic() + TIMEOUT
    while publisher.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not publisher.connected
    sent = EventMessage(event(), time.time())
    hub.publish(sent)
    time.sleep(0.2)
    mqtt_broker.start()
    listener = listen()  # subscribes as soon as the broker is back; the event is QoS 1, queued
    got = listener.wait_for("vigil/gate/events", timeout=10)
    assert got.json()["id"] == sent.event.id


def test_latency(publisher, hub, listen):
    listener = listen("vigil/gate/events")
    sent: dict[str, float] = {}
    n = 200
    for _ in range(n):
        message = EventMessage(event(), time.time())
        sent[message.event.id] = time.time()
        hub.publish(message)
        time.sleep(0.002)
    listener.wait_for("vigil/gate/events", lambda m: len(listener.messages) >= n, timeout=10)
    latency = []
    handover = []
    for m in listener.messages:
        body = m.json()
        latency.append(m.time - sent[body["id"]])
        handover.append(body["published_at"] - body["wall_time"])
    ms = np.array(latency) * 1000
    p50, p99 = np.percentile(ms, [50, 99])
    h50, h99 = np.percentile(np.array(handover) * 1000, [50, 99])
    print(
        f"\nMQTT event latency, hub publish -> subscriber, {n} events: "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {ms.max():.2f} ms; "
        f"capture -> MQTT client hand-over p50 {h50:.2f} ms, p99 {h99:.2f} ms"
    )
    assert len({m.json()["id"] for m in listener.messages}) == n
    assert p99 < 100
