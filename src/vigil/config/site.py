"""The site configuration of `vigil serve`: cameras, storage, server, MQTT.

Each camera carries the same zones, lines and apps as `vigil run`'s configuration; the
detector, motion and tracker settings are shared by all cameras. Loaded and reported through
`vigil.config.loader`, so errors are one line naming the file, key path and value. It lives
below the service so that the service's processes, the API and the CLI share one model
without importing each other (`validate_site`, which builds apps, is in vigil.service.site_plan).
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from vigil.config.privacy import PrivacySettings
from vigil.config.schema import (
    ConfigDocument,
    DetectorConfig,
    Name,
    SceneConfig,
    SourceConfig,
    VigilConfig,
    _Model,
)
from vigil.db.engine import check_database_url
from vigil.events.review import ReviewSettings
from vigil.motion.detector import MotionSettings
from vigil.sources.hwaccel import HwAccelName
from vigil.tracking.tracker import TrackerSettings


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


class RecordSettings(_Model):
    mode: Literal["continuous", "motion", "events", "off"] = "continuous"
    """continuous: keep everything for `retain_days`; motion: keep segments with motion;
    events: keep only footage that events reference; off: record nothing."""
    segment_seconds: float = Field(10.0, ge=2, le=300)
    retain_days: float = Field(7.0, ge=0)
    """How long footage kept by the mode stays."""
    event_retain_days: float = Field(30.0, ge=0)
    """How long footage referenced by an event stays, whatever the mode or disk budget."""
    pre_roll: float = Field(5.0, ge=0)
    post_roll: float = Field(5.0, ge=0)


class CameraConfig(SceneConfig):
    id: Name
    url: str
    """rtsp://, http(s):// (incl. MJPEG) or a file path (played in real time)."""
    detect_fps: float = Field(5.0, gt=0)
    """Frames per second analysed; the stream may run faster (recording keeps every frame)."""
    analysis_queue: int = Field(3, ge=1, le=30)
    """Frames due for analysis that may wait while one analysis step overruns (beyond it the
    oldest waiting frame is dropped)."""
    analysis_max_age: float = Field(1.0, gt=0)
    """Seconds a frame may wait for analysis; an older one is dropped (analysis stays live)."""
    transport: Literal["tcp", "udp"] = "tcp"
    hwaccel: HwAccelName = "auto"
    """Decode on a GPU (`cuda`: NVDEC, `vaapi`), `auto`: the first that works, else software;
    `none`: software. The camera's status says which decodes it and why."""
    loop: bool = False
    """Files: start again at the end (for demos)."""
    enabled: bool = True
    record: RecordSettings = Field(default_factory=RecordSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    """What viewers see of people on this camera, and what is kept of it and why."""
    node: str | None = None
    """Cluster: run this camera only on this node (its Ray label ``vigil-node``)."""
    node_labels: list[str] = Field(default_factory=list)
    """Cluster: run this camera only on a node carrying all of these labels (a node carries
    ``depot-3`` with the Ray label ``vigil-label-depot-3=true``, and ``gpu`` with a Ray GPU)."""

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_" for c in value):
            raise ValueError(
                f"must be letters, digits, '-' or '_' (used in paths and topics), got {value!r}"
            )
        return value


class StorageSettings(_Model):
    directory: Path = Path("vigil-data")
    """Recordings, snapshots, exports and (by default) the SQLite database."""
    database: str | None = None
    """SQLAlchemy URL: ``sqlite:///FILE`` or ``postgresql+psycopg://USER:PASSWORD@HOST/DB``
    (needs the `postgres` extra); default SQLite in `directory`."""
    disk_budget_gb: float | None = Field(None, gt=0)
    """Recordings, snapshots and cached clips are trimmed oldest first beyond this size."""
    event_footage_share: float = Field(0.5, ge=0, le=1)
    """Share of the disk budget that footage events reference may hold; beyond it the
    budget deletes the oldest of that footage too."""
    min_free_mb: float = Field(500.0, ge=0)
    """Free space kept on the storage disk: below it recording pauses and the oldest
    footage is deleted, whatever references it, so the database never fills the disk."""
    events_retain_days: float = Field(90.0, gt=0)
    """Event rows and their snapshots older than this are deleted."""

    @field_validator("database")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is not None:
            check_database_url(value)  # ValueError: one line, without the password
        return value

    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.directory / 'vigil.db'}"

    @property
    def min_free_bytes(self) -> int:
        return round(self.min_free_mb * 1e6)


class ServerSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8971, ge=0, le=65535)
    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses or networks (``10.0.0.0/8``) of reverse proxies whose ``X-Forwarded-For``
    names the client; from anyone else the header is ignored (it could name any address)."""

    time_zone: str | None = None
    """The site's time zone (an IANA name, ``Europe/Paris``) in which the dashboard shows
    times; default the server's own."""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {value!r} (an IANA name: Europe/Paris)"
                ) from None
        return value

    def zone_name(self) -> str | None:
        """`time_zone`, else the server's zone (``TZ``, or what /etc/localtime links to);
        None when neither names one (the browser's zone is then used)."""
        if self.time_zone:
            return self.time_zone
        named = os.environ.get("TZ", "").lstrip(":")
        if not named:
            localtime = Path("/etc/localtime")
            if localtime.is_symlink() and "zoneinfo/" in str(localtime.resolve()):
                named = str(localtime.resolve()).split("zoneinfo/", 1)[1]
        try:
            return named if named and ZoneInfo(named) else None
        except (ZoneInfoNotFoundError, ValueError):
            return None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"must be IP addresses or networks (10.0.0.0/8), got {item!r}"
                ) from None
        return value


class ClusterSettings(_Model):
    """One site across many machines: Ray schedules the camera workers, PostgreSQL is the
    store every node writes to (`vigil.cluster`)."""

    address: str
    """The Ray cluster's address (``HOST:PORT`` of its head, as ``ray start --head`` prints)."""
    database: str | None = None
    """The shared PostgreSQL database (SQLAlchemy URL); default ``storage.database``."""
    cameras_per_cpu: float = Field(2.0, gt=0)
    """A node's capacity when it declares none (Ray label ``vigil-cameras``): this many
    cameras per CPU Ray gives it."""
    token_file: Path | None = None
    """The file holding the Ray cluster's token (Ray's token authentication: every node was
    started with ``RAY_AUTH_MODE=token`` and this token). Without it, Ray's own default
    applies (``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token`` when present)."""
    lease_seconds: float = Field(10.0, ge=2, le=120)
    """A node that cannot renew its cameras' leases this long stops them; the head then gives
    them to other nodes."""

    @field_validator("database")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is not None:
            check_database_url(value)
        return value


class StoreSettings(_Model):
    catalogs: list[str] = Field(default_factory=list)
    """The app catalogs the dashboard's store page browses and installs from: directories,
    ``file://`` or ``http(s)://`` URLs (``$VIGIL_CATALOG``, when set, is offered too)."""


class DetectorServiceSettings(_Model):
    max_batch: int = Field(8, ge=1)
    """Most images in one inference call, across cameras."""
    max_wait_ms: float = Field(10.0, ge=0)
    """How long the first request of a batch waits for others."""


class SiteConfig(ConfigDocument):
    cameras: list[CameraConfig] = Field(min_length=1)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    detector_service: DetectorServiceSettings = Field(default_factory=DetectorServiceSettings)
    motion: MotionSettings = Field(default_factory=MotionSettings)
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    """Which events are alerts and how events group into review items."""
    cluster: ClusterSettings | None = None
    """Run the site on a Ray cluster (`vigil.cluster`) instead of this machine's processes."""
    store: StoreSettings = Field(default_factory=StoreSettings)

    @model_validator(mode="after")
    def _cluster_database(self) -> SiteConfig:
        """A cluster's nodes share one PostgreSQL database: ``cluster.database``, which is
        also the site's (the API on the head reads it), or ``storage.database``."""
        if self.cluster is None:
            return self
        cluster_db, storage_db = self.cluster.database, self.storage.database
        if cluster_db and storage_db and cluster_db != storage_db:
            raise ValueError(
                "cluster.database: differs from storage.database (a site has one database): "
                "set one of them"
            )
        url = cluster_db or storage_db
        backend = "sqlite" if url is None else check_database_url(url).get_backend_name()
        if backend != "postgresql":
            raise ValueError(
                "cluster: needs a PostgreSQL database shared by every node "
                f"(cluster.database), got {backend}"
            )
        self.storage.database = self.cluster.database = url
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> SiteConfig:
        seen: dict[str, int] = {}
        slugs: dict[str, int] = {}
        for i, camera in enumerate(self.cameras):
            if camera.id in seen:
                raise ValueError(
                    f"cameras[{i}].id: duplicate camera id {camera.id!r} (also cameras[{seen[camera.id]}])"
                )
            # MQTT topics (and folders on case-insensitive disks) would be shared.
            slug = slugify(camera.id)
            if slug in slugs:
                j = slugs[slug]
                raise ValueError(
                    f"cameras[{i}].id: {camera.id!r} is too close to cameras[{j}].id "
                    f"{self.cameras[j].id!r}: both are {slug!r} in MQTT topics"
                )
            seen[camera.id] = slugs[slug] = i
        return self

    def camera(self, camera_id: str) -> CameraConfig:
        return next(c for c in self.cameras if c.id == camera_id)

    def cameras_running(self, app_type: str) -> list[str]:
        """The cameras with an enabled instance of app `app_type`."""
        return [c.id for c in self.cameras if any(a.type == app_type and a.enabled for a in c.apps)]

    def catalogs(self) -> list[str]:
        """The app catalogs offered on the store page: ``store.catalogs``, then
        ``$VIGIL_CATALOG``."""
        env = os.environ.get("VIGIL_CATALOG")
        return [*self.store.catalogs, *([env] if env and env not in self.store.catalogs else [])]

    def engine_config(self, camera: CameraConfig) -> VigilConfig:
        """The engine's view of one camera: its scene with the site's shared settings.

        The worker hands the engine only the frames due at `detect_fps`, so the engine
        detects on every frame it gets.
        """
        data: dict[str, Any] = {
            "source": SourceConfig(url=camera.url, id=camera.id, loop=camera.loop),
            "detector": self.detector,
            "motion": self.motion,
            "tracker": self.tracker,
            "zones": camera.zones,
            "lines": camera.lines,
            "apps": camera.apps,
        }
        return VigilConfig.model_validate(data)
