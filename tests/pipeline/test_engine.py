"""Engine: gating → detection on crops → tracking → apps, with a scripted stand-in detector.

The fake detectors here stand in for the ONNX detector only in these unit tests (the real
model is exercised in tests/detection); they return boxes we control, in crop coordinates.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from vigil.apps.base import App, AppSettings, FrameContext, Scene
from vigil.detection.base import Detector
from vigil.detection.detections import Detections
from vigil.events.event import Event
from vigil.motion.detector import MotionDetector, MotionSettings
from vigil.pipeline.engine import Engine, FrameResult
from vigil.pipeline.gating import RegionGate
from vigil.sources.frame import Frame
from vigil.tracking.tracker import ByteTracker, TrackerSettings

W, H = 640, 480
FPS = 10.0
GRADIENT = (np.arange(H)[:, None, None] * 3 + np.arange(W)[None, :, None] * 7 + np.arange(3)) % 256
GRADIENT = GRADIENT.astype(np.uint8)


def dets(boxes, conf=0.9, cls=0) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Detections(boxes, np.full(len(boxes), conf), np.full(len(boxes), cls))


class ScriptedDetector:
    """Returns `script(call_index, crop_index, crop)` for every crop; records what it saw."""

    def __init__(self, script: Callable[[int, int, np.ndarray], Detections]):
        self.script = script
        self.calls: list[list[np.ndarray]] = []
        self._lock = threading.Lock()

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        with self._lock:
            self.calls.append([im.copy() for im in images])
            call = len(self.calls) - 1
        return [self.script(call, i, im) for i, im in enumerate(images)]


class BrightDetector:
    """Finds the bounding box of pure-white pixels in each crop (a stand-in detector)."""

    def __init__(self):
        self.shapes: list[list[tuple[int, int]]] = []
        self._lock = threading.Lock()

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        with self._lock:
            self.shapes.append([im.shape[:2] for im in images])
        out = []
        for im in images:
            ys, xs = np.nonzero(im.min(axis=2) == 255)
            out.append(
                dets([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])
                if len(xs)
                else Detections.empty()
            )
        return out


class FixedGate:
    """Always plans the same regions."""

    def __init__(self, regions):
        self.regions = np.asarray(regions, np.float32).reshape(-1, 4)
        self.calls = 0

    def sense(self, image):
        return np.empty((0, 4), np.float32)

    def plan(self, motion, tracks, speed):
        self.calls += 1
        return self.regions

    def admitted(self, detections):
        return detections


class ProbeSettings(AppSettings):
    tag: str = "x"


class Probe(App):
    """Emits one instant `seen` event per tracked object; `closed` at end of stream."""

    kind = "probe"
    Settings = ProbeSettings
    emits = ("seen", "closed")

    def __init__(self, name, settings, scene):
        super().__init__(name, settings, scene)
        self.images: list[np.ndarray | None] = []
        self.frames = 0

    def process(self, ctx: FrameContext, objects: Detections) -> list[Event]:
        self.frames += 1
        self.images.append(ctx.image)
        return [
            self.event(
                ctx, "seen", track_id=int(t), class_id=int(c), attributes={"tag": self.settings.tag}
            )
            for t, c in zip(objects.tracker_id, objects.class_id)
        ]

    def finish(self, ctx: FrameContext) -> list[Event]:
        return [self.event(ctx, "closed", attributes={"frames": self.frames})]


class PixelProbe(Probe):
    kind = "pixel_probe"
    needs_pixels = True


SCENE = Scene.build(W, H, class_names=("person", "bicycle", "car"))


def frames(n: int, fps: float = FPS, image: np.ndarray = GRADIENT) -> list[Frame]:
    return [Frame("cam1", i, i / fps, image) for i in range(n)]


def full_gate() -> RegionGate:
    s = MotionSettings(enabled=False)
    return RegionGate(s, MotionDetector(s), (W, H), (320, 320))


def test_fakes_satisfy_the_detector_protocol():
    assert isinstance(ScriptedDetector(lambda *a: Detections.empty()), Detector)
    assert isinstance(BrightDetector(), Detector)


# -- crops ------------------------------------------------------------------------------------


def test_crop_boxes_are_shifted_back_into_frame_coordinates():
    regions = [[100, 50, 260, 210], [400, 300, 560, 460]]
    per_crop = {0: [[10, 20, 30, 40]], 1: [[5, 5, 45, 85]]}
    detector = ScriptedDetector(lambda call, i, crop: dets(per_crop[i]))
    engine = Engine(detector, ByteTracker(frame_size=(W, H)), FixedGate(regions))
    result = engine.process(frames(1)[0])
    assert result.objects.tracker_id.tolist() == [1, 2]
    np.testing.assert_allclose(result.objects.xyxy, [[110, 70, 130, 90], [405, 305, 445, 385]])
    np.testing.assert_allclose(result.regions, regions)
    assert result.detected


def test_the_detector_receives_the_crops_pixels():
    regions = [[100, 50, 260, 210], [400, 300, 560, 460]]
    detector = ScriptedDetector(lambda *a: Detections.empty())
    Engine(detector, ByteTracker(frame_size=(W, H)), FixedGate(regions)).process(frames(1)[0])
    (crops,) = detector.calls
    assert [c.shape for c in crops] == [(160, 160, 3), (160, 160, 3)]
    np.testing.assert_array_equal(crops[0], GRADIENT[50:210, 100:260])
    np.testing.assert_array_equal(crops[1], GRADIENT[300:460, 400:560])


def test_fractional_regions_are_rounded_to_whole_pixels():
    detector = ScriptedDetector(lambda call, i, crop: dets([[0, 0, 10, 10]]))
    engine = Engine(
        detector, ByteTracker(frame_size=(W, H)), FixedGate([[100.4, 49.6, 259.6, 210.4]])
    )
    result = engine.process(frames(1)[0])
    np.testing.assert_array_equal(detector.calls[0][0], GRADIENT[50:210, 100:260])
    np.testing.assert_allclose(result.objects.xyxy, [[100, 50, 110, 60]])


def test_a_full_frame_region_passes_the_whole_image_and_boxes_unchanged():
    detector = ScriptedDetector(lambda call, i, crop: dets([[33, 44, 99, 188]]))
    result = Engine(detector, ByteTracker(frame_size=(W, H)), full_gate()).process(frames(1)[0])
    assert detector.calls[0][0].shape == (H, W, 3)
    np.testing.assert_allclose(result.objects.xyxy, [[33, 44, 99, 188]])


def test_no_regions_skips_the_detector_and_tracks_coast():
    gate = FixedGate([[0, 0, W, H]])
    detector = ScriptedDetector(lambda call, i, crop: dets([[200, 100, 240, 180]]))
    engine = Engine(detector, ByteTracker(frame_size=(W, H)), gate)
    engine.process(frames(1)[0])
    gate.regions = np.empty((0, 4), np.float32)
    for frame in frames(5)[1:]:
        result = engine.process(frame)
        assert result.regions.shape == (0, 4)
        assert result.objects.tracker_id.tolist() == [1]
        assert result.objects.confidence.tolist() == [0.0]
        np.testing.assert_allclose(result.objects.xyxy, [[200, 100, 240, 180]], atol=1e-3)
    assert len(detector.calls) == 1
    assert engine.tracker.state.tolist() == [1]  # still ACTIVE: it was not looked for


# -- detect_interval --------------------------------------------------------------------------


def test_detect_interval_skips_frames_between_detections():
    detector = ScriptedDetector(
        lambda call, i, crop: dets([[200 + 8 * call, 100, 240 + 8 * call, 180]])
    )
    engine = Engine(detector, ByteTracker(frame_size=(W, H)), full_gate(), detect_interval=1 / 5)
    results = [engine.process(f) for f in frames(12)]  # 10 fps frames, 5 fps detection
    assert [r.detected for r in results] == [True, False] * 6
    assert len(detector.calls) == 6
    for r in results:
        assert r.objects.tracker_id.tolist() == [1]
        if r.detected:
            assert len(r.regions) == 1 and r.objects.confidence[0] == pytest.approx(0.9)
        else:
            assert r.regions.shape == (0, 4) and r.objects.confidence.tolist() == [0.0]
    # between detections the box is where the motion model puts it: half-way (4 px / frame)
    np.testing.assert_allclose(results[11].objects.xyxy[0, 0], 200 + 8 * 5 + 4, atol=1.0)


@pytest.mark.parametrize(
    "fps, detect_fps, expected",
    [
        (10, 5, list(range(0, 30, 2))),
        (30, 10, list(range(0, 30, 3))),
        (25, 10, [0, 3, 5, 8, 10, 13, 15, 18, 20, 23, 25, 28]),  # 10 per second on average
        (10, 10, list(range(30))),
        (10, 20, list(range(30))),  # faster than the source: every frame
    ],
)
def test_detect_interval_stays_on_its_grid(fps, detect_fps, expected):
    detector = ScriptedDetector(lambda *a: Detections.empty())
    engine = Engine(
        detector, ByteTracker(frame_size=(W, H)), full_gate(), detect_interval=1 / detect_fps
    )
    detected = [r.frame.index for r in map(engine.process, frames(30, fps)) if r.detected]
    assert detected == expected


def test_without_detect_interval_every_frame_is_detected():
    detector = ScriptedDetector(lambda *a: Detections.empty())
    engine = Engine(detector, ByteTracker(frame_size=(W, H)), full_gate())
    assert all(engine.process(f).detected for f in frames(7))
    assert len(detector.calls) == 7


def test_detection_resumes_at_once_after_a_stall():
    detector = ScriptedDetector(lambda *a: Detections.empty())
    engine = Engine(detector, ByteTracker(frame_size=(W, H)), full_gate(), detect_interval=0.2)
    pts = [0.0, 0.1, 0.2, 0.3] + [5.0 + i / 10 for i in range(10)]
    done = [p for i, p in enumerate(pts) if engine.process(Frame("cam1", i, p, GRADIENT)).detected]
    assert done[:3] == [0.0, 0.2, 5.0]
    after = [p for p in done if p >= 5.0]
    assert 5 <= len(after) <= 6  # about 5 fps again over the next second


# -- apps -------------------------------------------------------------------------------------


def test_apps_receive_tracked_objects_and_their_events_come_back():
    detector = ScriptedDetector(
        lambda call, i, crop: dets([[10, 10, 50, 90], [300, 200, 340, 280]], cls=2)
    )
    probe = Probe("probe1", ProbeSettings(tag="t"), SCENE)
    engine = Engine(detector, ByteTracker(frame_size=(W, H)), full_gate(), apps=[probe])
    results = [engine.process(f) for f in frames(3)]
    for r in results:
        assert [(e.type, e.track_id) for e in r.events] == [("seen", 1), ("seen", 2)]
        for e in r.events:
            assert (e.source, e.app, e.state) == ("cam1", "probe1", "instant")
            assert e.frame_index == r.frame.index
            assert e.start_time == e.end_time == pytest.approx(r.frame.pts)
            assert e.class_id == 2 and e.class_name == "car"
            assert e.attributes == {"tag": "t"}
    assert probe.images == [None, None, None]  # needs_pixels is False


def test_events_of_several_apps_come_back_in_app_order():
    detector = ScriptedDetector(lambda call, i, crop: dets([[10, 10, 50, 90]]))
    apps = [Probe("a", ProbeSettings(), SCENE), Probe("b", ProbeSettings(), SCENE)]
    result = Engine(detector, ByteTracker(frame_size=(W, H)), full_gate(), apps=apps).process(
        frames(1)[0]
    )
    assert [e.app for e in result.events] == ["a", "b"]


def test_an_app_that_needs_pixels_gets_the_frame_image():
    detector = ScriptedDetector(lambda *a: Detections.empty())
    probe = PixelProbe("pix", ProbeSettings(), SCENE)
    engine = Engine(detector, ByteTracker(frame_size=(W, H)), full_gate(), apps=[probe])
    engine.process(frames(1)[0])
    assert probe.images[0] is GRADIENT


def test_finish_closes_events_at_the_last_frame():
    detector = ScriptedDetector(lambda *a: Detections.empty())
    probe = Probe("probe1", ProbeSettings(), SCENE)
    engine = Engine(detector, ByteTracker(frame_size=(W, H)), full_gate(), apps=[probe])
    assert engine.finish() == []  # no frame yet: nothing to close
    for f in frames(4):
        engine.process(f)
    (closed,) = engine.finish()
    assert (closed.type, closed.app, closed.source) == ("closed", "probe1", "cam1")
    assert closed.frame_index == 3 and closed.start_time == pytest.approx(0.3)
    assert closed.attributes == {"frames": 4}


BACKGROUND = np.random.default_rng(4).integers(40, 100, (H, W, 3), dtype=np.uint8)


def with_white(x1, y1, x2, y2, background=BACKGROUND) -> np.ndarray:
    image = background.copy()
    image[y1:y2, x1:x2] = 255
    return image


def moving_square(n: int) -> list[Frame]:
    return [
        Frame("cam1", i, i / FPS, with_white(50 + 9 * i, 100 + 3 * i, 90 + 9 * i, 180 + 3 * i))
        for i in range(n)
    ]


def test_run_yields_a_result_per_frame_in_order_and_finish_closes_afterwards():
    probe = Probe("probe1", ProbeSettings(), SCENE)
    engine = Engine(BrightDetector(), ByteTracker(frame_size=(W, H)), full_gate(), apps=[probe])
    results = list(engine.run(iter(moving_square(25))))
    assert all(isinstance(r, FrameResult) for r in results)
    assert [r.frame.index for r in results] == list(range(25))
    assert all(r.objects.tracker_id.tolist() == [1] for r in results)
    assert [[e.frame_index for e in r.events] for r in results] == [[i] for i in range(25)]
    assert [e.type for e in engine.finish()] == ["closed"]


@pytest.mark.parametrize("in_flight", [1, 3])
@pytest.mark.parametrize("detect_interval", [None, 0.2])
def test_run_gives_the_same_results_as_processing_frame_by_frame(in_flight, detect_interval):
    def engine(**kw):
        return Engine(
            BrightDetector(),
            ByteTracker(frame_size=(W, H)),
            full_gate(),
            detect_interval=detect_interval,
            **kw,
        )

    sequential = engine()
    one_by_one = [sequential.process(f) for f in moving_square(30)]
    pipelined = list(engine(in_flight=in_flight).run(moving_square(30)))
    assert len(pipelined) == len(one_by_one) == 30
    for a, b in zip(one_by_one, pipelined):
        assert a.frame.index == b.frame.index and a.detected == b.detected
        assert a.objects.tracker_id.tolist() == b.objects.tracker_id.tolist()
        np.testing.assert_allclose(a.objects.xyxy, b.objects.xyxy, atol=1e-4)
        np.testing.assert_allclose(a.regions, b.regions)


# -- with real motion gating ------------------------------------------------------------------


class ThreadNotingMotion(MotionDetector):
    """A real motion detector that notes the thread of each `detect`."""

    def __init__(self, settings: MotionSettings) -> None:
        super().__init__(settings)
        self.threads: list[str] = []

    def detect(self, image: np.ndarray) -> np.ndarray:
        self.threads.append(threading.current_thread().name)
        return super().detect(image)


@pytest.mark.parametrize("detect_interval", [None, 0.2])
def test_run_finds_motion_on_the_decoding_thread(detect_interval):
    s = MotionSettings(full_frame_every=10)

    def engine() -> tuple[Engine, ThreadNotingMotion]:
        motion = ThreadNotingMotion(s)
        gate = RegionGate(s, motion, (W, H), (320, 320))
        return Engine(
            BrightDetector(), ByteTracker(frame_size=(W, H)), gate, detect_interval=detect_interval
        ), motion

    sequential, _ = engine()
    one_by_one = [sequential.process(f) for f in moving_square(30)]
    pipelined_engine, motion = engine()
    pipelined = list(pipelined_engine.run(moving_square(30)))
    assert set(motion.threads) == {"vigil-decode"}
    assert len(motion.threads) == sum(r.detected for r in one_by_one)  # only where due
    assert any(len(r.regions) > 0 and r.regions[0, 2] < W for r in pipelined)  # crops planned
    for a, b in zip(one_by_one, pipelined, strict=True):
        assert a.frame.index == b.frame.index and a.detected == b.detected
        assert a.objects.tracker_id.tolist() == b.objects.tracker_id.tolist()


def test_a_moving_object_keeps_one_id_with_motion_gating():
    s = MotionSettings()
    detector = BrightDetector()
    engine = Engine(
        detector,
        ByteTracker(frame_size=(W, H)),
        RegionGate(s, MotionDetector(s), (W, H), (320, 320)),
    )
    for i in range(40):
        x = 50 + 10 * i
        result = engine.process(Frame("cam1", i, i / FPS, with_white(x, 200, x + 40, 280)))
        assert result.objects.tracker_id.tolist() == [1], i
        if len(result.regions):
            np.testing.assert_allclose(result.objects.xyxy[0], [x, 200, x + 40, 280], atol=4.0)


def test_a_still_scene_skips_the_detector_between_full_frame_passes():
    s = MotionSettings(full_frame_every=10)
    detector = BrightDetector()
    engine = Engine(
        detector,
        ByteTracker(frame_size=(W, H)),
        RegionGate(s, MotionDetector(s), (W, H), (320, 320)),
    )
    image = with_white(300, 200, 340, 280)
    looked = [len(engine.process(Frame("cam1", i, i / FPS, image)).regions) for i in range(25)]
    assert [i for i, n in enumerate(looked) if n] == [0, 10, 20]
    assert len(detector.shapes) == 3


def test_a_stationary_object_keeps_its_id_with_gating_and_a_low_detect_rate():
    s = MotionSettings()  # full_frame_every=10
    engine = Engine(
        BrightDetector(),
        ByteTracker(TrackerSettings(), frame_size=(W, H)),  # lost_buffer_seconds=3
        RegionGate(s, MotionDetector(s), (W, H), (320, 320)),
        detect_interval=0.5,
    )
    image = with_white(300, 200, 340, 280)
    ids = [
        engine.process(Frame("cam1", i, i / FPS, image)).objects.tracker_id.tolist()
        for i in range(120)
    ]
    assert ids == [[1]] * 120


def test_an_object_that_walks_out_of_the_picture_is_gone_with_gating():
    s = MotionSettings()  # full_frame_every=10
    engine = Engine(
        BrightDetector(),
        ByteTracker(frame_size=(W, H)),
        RegionGate(s, MotionDetector(s), (W, H), (320, 320)),
    )
    seen = []
    for i in range(60):  # out on the right after 14 frames, then 4.5 s of an empty scene
        x = 500 + 10 * i
        result = engine.process(Frame("cam1", i, i / FPS, with_white(x, 200, x + 40, 280)))
        objects = result.objects
        centres = objects.centers
        assert ((centres >= 0) & (centres <= (W, H))).all(), (i, objects.xyxy)
        assert (objects.xyxy[:, 2:] >= objects.xyxy[:, :2]).all(), (i, objects.xyxy)
        seen.append(objects.tracker_id.tolist())
    assert seen[:10] == [[1]] * 10
    assert seen[-30:] == [[]] * 30
    assert len(engine.tracker) == 0


def test_a_tall_moving_person_is_tracked_with_gating():
    w, h = 1920, 1080
    background = np.random.default_rng(5).integers(40, 100, (h, w, 3), dtype=np.uint8)
    s = MotionSettings()
    detector = BrightDetector()
    engine = Engine(
        detector,
        ByteTracker(frame_size=(w, h)),
        RegionGate(s, MotionDetector(s), (w, h), (416, 416)),
    )
    for i in range(6):
        x = 800 + 4 * i
        result = engine.process(
            Frame("cam1", i, i / FPS, with_white(x, 300, x + 250, 950, background))
        )
        assert result.objects.tracker_id.tolist() == [1], i
        np.testing.assert_allclose(result.objects.xyxy[0], [x, 300, x + 250, 950], atol=2.0)
        assert np.all(result.regions[:, :2] >= 0)


@pytest.mark.parametrize("in_flight", [1, 3])
def test_a_moving_object_keeps_one_id_with_motion_gating_and_detection_running_ahead(in_flight):
    s = MotionSettings()
    engine = Engine(
        BrightDetector(),
        ByteTracker(frame_size=(W, H)),
        RegionGate(s, MotionDetector(s), (W, H), (320, 320)),
        in_flight=in_flight,
    )
    frames_in = [
        Frame("cam1", i, i / FPS, with_white(50 + 10 * i, 200, 90 + 10 * i, 280)) for i in range(40)
    ]
    for i, result in enumerate(engine.run(frames_in)):
        assert result.frame.index == i
        assert result.objects.tracker_id.tolist() == [1], i
        if len(result.regions):
            np.testing.assert_allclose(
                result.objects.xyxy[0], [50 + 10 * i, 200, 90 + 10 * i, 280], atol=4.0
            )


def test_closing_run_early_leaves_no_threads_behind():
    before = set(threading.enumerate())

    def endless():
        for i in itertools.count():
            yield Frame("cam1", i, i / FPS, GRADIENT)

    engine = Engine(
        ScriptedDetector(lambda *a: Detections.empty()),
        ByteTracker(frame_size=(W, H)),
        full_gate(),
        in_flight=2,
    )
    results = engine.run(endless())
    assert [next(results).frame.index for _ in range(3)] == [0, 1, 2]
    results.close()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and [t for t in threading.enumerate() if t not in before]:
        time.sleep(0.01)
    assert [t.name for t in threading.enumerate() if t not in before] == []


def test_a_detector_error_in_run_reaches_the_caller():
    def script(call, i, crop):
        if crop[0, 0, 0] == 4:  # the fifth frame, whichever worker runs it
            raise RuntimeError("inference failed")
        return Detections.empty()

    marked = [Frame("cam1", i, i / FPS, np.full((H, W, 3), i, np.uint8)) for i in range(10)]
    engine = Engine(
        ScriptedDetector(script), ByteTracker(frame_size=(W, H)), full_gate(), in_flight=2
    )
    seen = []
    with pytest.raises(RuntimeError, match="inference failed"):
        for result in engine.run(marked):
            seen.append(result.frame.index)
    assert seen == [0, 1, 2, 3]
