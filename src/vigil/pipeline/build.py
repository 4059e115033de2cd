"""Assemble an `Engine` for one source from a validated `VigilConfig`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
from pydantic import ValidationError

from vigil.apps.base import App, Scene
from vigil.config.loader import app_settings_error, format_key_path
from vigil.config.schema import ConfigDocument, SceneConfig, VigilConfig
from vigil.detection.classes import COCO_CLASSES, coco_class_ids
from vigil.errors import ConfigError
from vigil.forensics.summary import TrackSummarizer
from vigil.motion.detector import MotionDetector
from vigil.pipeline.engine import Engine
from vigil.pipeline.gating import RegionGate
from vigil.tracking.tracker import ByteTracker

if TYPE_CHECKING:
    from vigil.detection.base import LetterboxingDetector
    from vigil.detection.onnx_backend import OnnxDetector


def class_ids(names: list[str | int] | None) -> set[int] | None:
    if names is None:
        return None
    ids = {n for n in names if isinstance(n, int)}
    return ids | coco_class_ids(n for n in names if isinstance(n, str))


def build_scene(config: SceneConfig, width: int, height: int) -> Scene:
    zones = [z.to_zone(name) for name, z in config.zones.items()]
    lines = [ln.to_line(name) for name, ln in config.lines.items()]
    return Scene.build(width, height, zones, lines, COCO_CLASSES)


def build_apps(
    scene_config: SceneConfig,
    scene: Scene,
    document: ConfigDocument | None = None,
    scope: tuple[str | int, ...] = (),
) -> list[App]:
    """The apps of `scene_config`; errors name `document`'s file and the key path under
    `scope` (e.g. ``("cameras", 0)`` for a camera of a site)."""
    if not scene_config.apps:
        return []  # the registry, a fifth of a second to import on a small CPU, is not needed
    from vigil.appstore.registry import build_app, check_app

    apps = []
    for index, spec in enumerate(scene_config.apps):
        with _app_errors(spec.type, index, document, scope):
            if spec.enabled:
                apps.append(build_app(spec.type, spec.name or spec.type, spec.settings, scene))
            else:  # checked, so that enabling it later cannot fail, but not started
                check_app(spec.type, spec.name or spec.type, spec.settings, scene)
    return apps


def check_apps(
    scene_config: SceneConfig,
    scene: Scene,
    document: ConfigDocument | None = None,
    scope: tuple[str | int, ...] = (),
) -> None:
    """Like `build_apps` but starts nothing: store apps (sandboxed processes) are checked
    against their manifest's settings schema only."""
    if not scene_config.apps:
        return
    from vigil.appstore.registry import check_app

    for index, spec in enumerate(scene_config.apps):
        with _app_errors(spec.type, index, document, scope):
            check_app(spec.type, spec.name or spec.type, spec.settings, scene)


@contextmanager
def _app_errors(
    kind: str, index: int, document: ConfigDocument | None, scope: tuple[str | int, ...]
) -> Iterator[None]:
    """Turn an error building ``apps[index]`` into a one-line `ConfigError` naming the file
    and key path."""
    file = document.file if document is not None else None
    try:
        yield
    except ValidationError as err:
        from vigil.appstore.registry import get_app_class

        settings_model = get_app_class(kind).Settings  # for "did you mean" hints
        originals = document._originals if document is not None else None
        raise app_settings_error(
            err, index, file, scope=scope, model=settings_model, originals=originals
        ) from None
    except ValueError as err:
        where = format_key_path((*scope, "apps", index))
        raise ConfigError(f"{file}: {where}: {err}" if file else f"{where}: {err}") from None


def validate_apps(config: VigilConfig) -> None:
    """Check every app once against a placeholder scene, so that a bad app type, setting or
    zone name is reported before a video or model is opened. Normalised zones need a frame
    size to become pixels; any size will do for checking names and settings."""
    check_apps(config, build_scene(config, 1000, 1000), config)


def build_detector(config: VigilConfig) -> OnnxDetector:
    # Imported here: camera workers use the shared detector and need not load onnxruntime.
    from vigil.detection.onnx_backend import OnnxDetector

    d = config.detector
    try:
        return OnnxDetector(
            d.model,
            input_size=(d.input_size[0], d.input_size[1]),
            conf_threshold=d.confidence,
            nms_iou=d.nms_iou,
            classes=class_ids(d.classes),
            threads=d.threads,
            decoder=d.decoder,
            device=d.device,
        )
    except ConfigError as err:  # detector.device: say which file set it
        raise ConfigError(f"{config.file}: {err}" if config.file else str(err)) from None


def build_engine(
    config: VigilConfig,
    frame_size: tuple[int, int],
    detector: LetterboxingDetector | None = None,
    *,
    gating: bool | None = None,
    exclude: np.ndarray | None = None,
) -> tuple[Engine, Scene]:
    """The engine for a source of `frame_size` (w, h); `gating` overrides `motion.enabled`;
    `exclude`: a (h, w) mask left out of motion and detection (static privacy polygons)."""
    detector = detector or build_detector(config)
    scene = build_scene(config, *frame_size)
    motion = config.motion
    if gating is not None:
        motion = motion.model_copy(update={"enabled": gating})
    crop_size = detector.input_shape_for(*frame_size)
    gate = RegionGate(motion, MotionDetector(motion, exclude), frame_size, crop_size)
    tracker = ByteTracker(config.tracker, frame_size=frame_size)
    fps = config.source.detect_fps
    engine = Engine(
        detector,
        tracker,
        gate,
        build_apps(config, scene, config),
        detect_interval=1.0 / fps if fps else None,
        in_flight=config.detector.workers,
        summarizer=TrackSummarizer(config.source.id, scene.zones, scene.lines, scene.class_names),
    )
    return engine, scene
