"""The shared detector service: shared-memory transport, batching across cameras, failures.

Camera workers are real processes started with the "spawn" method, as `vigil serve` starts
them. Most tests use the tiny `blob_yolox` model (blue squares are persons); the exactness
test uses the real YOLOX-Nano when ../shared has it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from polling import eventually
from vigil.config.schema import DetectorConfig, VigilConfig
from vigil.detection.base import Detector
from vigil.detection.detections import Detections
from vigil.errors import ModelError, VigilError
from vigil.pipeline.build import build_engine
from vigil.service import shm
from vigil.service.detector.client import DetectorClient
from vigil.service.detector.messages import NOT_RESPONDING, DetectorHandle
from vigil.service.detector.server import DetectorService, build_service_detector
from vigil.sources.frame import Frame

W, H = 416, 320
SPAWN = mp.get_context("spawn")


def blob_image(k: int, size: tuple[int, int] = (W, H)) -> np.ndarray:
    """Light grey with one 80x80 blue square ("person") whose place depends on `k`."""
    width, height = size
    image = np.full((height, width, 3), 200, np.uint8)
    x, y = 16 + 40 * (k % 7), 16 + 24 * (k % 5)
    image[y : y + 80, x : x + 80] = (255, 0, 0)
    return image


def same(a: list[Detections], b: list[Detections], exact: bool = True) -> bool:
    if len(a) != len(b):
        return False
    close = np.array_equal if exact else lambda x, y: np.allclose(x, y, atol=1e-3)
    return all(
        len(x) == len(y)
        and close(x.xyxy, y.xyxy)
        and close(x.confidence, y.confidence)
        and np.array_equal(x.class_id, y.class_id)
        for x, y in zip(a, b)
    )


def segments(service: DetectorService) -> list[str]:
    return sorted(n for n in os.listdir(shm.SHM_DIR) if n.startswith(service._shm_prefix))


@pytest.fixture(scope="module")
def blob_config(tiny_models: Path) -> DetectorConfig:
    path = tiny_models / "yolox_nano.onnx"  # conftest's blob_yolox
    # Above the blob model's side boxes: one box per square.
    return DetectorConfig(model=str(path), input_size=(W, H), confidence=0.5, threads=1, workers=1)


@pytest.fixture(scope="module")
def local_blob(blob_config: DetectorConfig):
    return build_service_detector(blob_config, 1)


@pytest.fixture(scope="module")
def service(blob_config: DetectorConfig):
    """One service for the tests that do not kill it; a long wait makes batching certain."""
    with DetectorService(blob_config, max_batch=8, max_wait_ms=30) as svc:
        yield svc


@pytest.fixture
def own_service(blob_config: DetectorConfig):
    """A service a test may kill, stop or restart."""
    svc = DetectorService(blob_config, max_wait_ms=0)
    svc.start()
    yield svc
    svc.stop()
    assert segments(svc) == []


# --------------------------------------------------------------------------- camera processes


def camera_process(handle, client_id, jobs, calls, barrier, results) -> None:
    """A camera worker: two threads each call `detect` `calls` times on this camera's images
    and check every answer against what the in-process detector found."""
    client = DetectorClient(handle, client_id, (H, W), in_flight=2)
    mismatches = []
    barrier.wait()

    def loop(t: int) -> None:
        for n in range(calls):
            images, expected = jobs[(n + t) % len(jobs)]
            if not same(client.detect(images), expected, exact=False):
                mismatches.append(n)

    threads = [threading.Thread(target=loop, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    timings = client.timings()
    client.close()
    results.put((client_id, len(mismatches), len(timings), max(t.batch_requests for t in timings)))


def endless_camera(handle, image) -> None:
    """A camera worker that keeps the service busy until it is killed."""
    client = DetectorClient(handle, "doomed", image.shape, in_flight=2)

    def loop() -> None:
        while True:
            client.detect([image, image[:100, :100]])

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# --------------------------------------------------------------------------- tests


def test_results_equal_the_in_process_detector_exactly(shared_model: Path, shared_clip: Path):
    config = DetectorConfig(model=str(shared_model))
    capture = cv2.VideoCapture(str(shared_clip))
    frames = [capture.read()[1] for _ in range(3)]
    capture.release()
    images = [
        frames[0],
        frames[1][100:420, 200:520],  # a crop at the detector's input shape
        frames[2][50:250, 300:700],  # a smaller, odd one
        frames[2][:0],  # empty
        frames[2],
    ]
    local = build_service_detector(config, config.threads)
    expected = local.detect(images)
    assert sum(len(d) for d in expected) > 10
    with DetectorService(config) as svc:
        client = DetectorClient(svc.handle, "cam", frames[0].shape)
        assert client.input_shape_for(768, 576) == local.input_shape_for(768, 576)
        for _ in range(2):
            assert same(client.detect(images), expected, exact=True)
        assert same(client.detect(images[1:2]), expected[1:2], exact=True)
        client.close()


def test_cameras_in_processes_get_their_own_results_in_shared_batches(
    service: DetectorService, local_blob
):
    cameras = 3
    jobs = {}
    for c in range(cameras):
        own = [[blob_image(3 * c)], [blob_image(3 * c + 1), blob_image(3 * c + 2)[:200, :360]]]
        jobs[f"cam{c}"] = [(images, local_blob.detect(images)) for images in own]
    assert all(len(d) == 1 for js in jobs.values() for _, ds in js for d in ds)
    barrier, results = SPAWN.Barrier(cameras), SPAWN.Queue()
    calls = 25
    processes = [
        SPAWN.Process(
            target=camera_process, args=(service.handle, cid, js, calls, barrier, results)
        )
        for cid, js in jobs.items()
    ]
    for p in processes:
        p.start()
    reports = sorted(results.get(timeout=60) for _ in processes)
    for p in processes:
        p.join(10)
    assert [r[0] for r in reports] == list(jobs)
    assert all(mismatches == 0 for _, mismatches, _, _ in reports)
    assert all(answered == 2 * calls for _, _, answered, _ in reports)
    # Requests of different cameras went through one inference call.
    assert max(r[3] for r in reports) > 1
    stats = service.stats()
    assert max(stats["batch_sizes"]) > 1
    assert stats["images"] >= cameras * 2 * calls


def test_a_killed_camera_does_not_disturb_the_others(service: DetectorService, local_blob):
    image = blob_image(5)
    expected = local_blob.detect([image])
    doomed = SPAWN.Process(target=endless_camera, args=(service.handle, image))
    doomed.start()
    with DetectorClient(service.handle, "survivor", image.shape) as client:
        assert eventually(lambda: service.stats()["clients"].get("doomed", {}).get("requests"))
        os.kill(doomed.pid, signal.SIGKILL)  # most likely with requests in the service
        doomed.join(10)
        for _ in range(20):
            assert same(client.detect([image]), expected, exact=False)
        assert eventually(lambda: list(service.stats()["clients"]) == ["survivor"])
        assert eventually(lambda: len(segments(service)) == 1)  # the doomed camera's ring is gone
        assert same(client.detect([image]), expected, exact=False)
    assert eventually(lambda: segments(service) == [])


def test_a_killed_service_fails_fast_and_a_restarted_one_is_reconnected(
    own_service: DetectorService, local_blob
):
    image = blob_image(2)
    expected = local_blob.detect([image])
    client = DetectorClient(own_service.handle, "cam", image.shape, timeout=5)
    assert same(client.detect([image]), expected, exact=False)
    os.kill(own_service.pid, signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(VigilError, match=NOT_RESPONDING) as error:
        client.detect([image])
    assert time.monotonic() - started < 5  # the socket closed: no need to wait out the timeout
    assert "\n" not in str(error.value)
    assert eventually(lambda: segments(own_service) == [])  # the client unlinked its ring
    with pytest.raises(VigilError, match=NOT_RESPONDING):
        client.detect([image])  # nobody listens
    own_service.start()
    assert same(client.detect([image]), expected, exact=False)
    assert client.reconnects == 1
    client.close()


def test_a_hung_service_times_out(own_service: DetectorService):
    image = blob_image(0)
    client = DetectorClient(own_service.handle, "cam", image.shape, timeout=1)
    client.detect([image])
    os.kill(own_service.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(VigilError, match=f"{NOT_RESPONDING} \\(no answer within 1 s\\)"):
            client.detect([image])
        assert 0.9 < time.monotonic() - started < 3
        assert client.timeouts == 1
    finally:
        os.kill(own_service.pid, signal.SIGCONT)
    client.detect([image])  # a late answer to the abandoned request is ignored
    client.close()


def test_shared_memory_is_released(own_service: DetectorService):
    image = blob_image(0)
    a = DetectorClient(own_service.handle, "a", image.shape)
    b = DetectorClient(own_service.handle, "b", image.shape)
    assert len(segments(own_service)) == 2
    a.detect([image])
    a.close()
    assert eventually(lambda: len(segments(own_service)) == 1)
    b.detect([image])
    own_service.stop()  # unlinks b's ring although b is still open
    assert segments(own_service) == []
    with pytest.raises(VigilError, match=NOT_RESPONDING):
        b.detect([image])
    b.close()


def test_handle_pickles_and_client_is_a_detector(service: DetectorService, local_blob):
    handle = pickle.loads(pickle.dumps(service.handle))
    assert isinstance(handle, DetectorHandle) and handle == service.handle
    client = DetectorClient(handle)  # slots sized at the first call
    assert isinstance(client, Detector)
    assert client.input_shape_for(1280, 720) == local_blob.input_shape_for(1280, 720)
    assert client.detect([]) == []
    image = blob_image(1)
    assert same(client.detect([image]), local_blob.detect([image]), exact=False)
    assert client.max_image_shape == image.shape
    client.close()
    with pytest.raises(VigilError, match="closed"):
        client.detect([image])


def test_bad_images_and_more_crops_than_slots(service: DetectorService, local_blob):
    client = DetectorClient(service.handle, "cam", (160, 200), slots=2, in_flight=1)
    with pytest.raises(ValueError, match="expected BGR uint8"):
        client.detect([np.zeros((10, 10), np.uint8)])
    with pytest.raises(ValueError, match="larger than this detector client's 200x160 slots"):
        client.detect([blob_image(0)])
    # Five crops that each fill a slot: three requests over a two-slot ring, results in order.
    crops = [blob_image(k)[:160, :200] for k in range(5)]
    images = [crops[0], np.zeros((0, 5, 3), np.uint8), *crops[1:]]
    found = client.detect(images)
    assert len(found[1]) == 0
    assert same(found, local_blob.detect(images), exact=False)
    assert sum(len(d) for d in found) >= 3
    assert client.requests == 3
    client.close()


def test_a_bad_model_is_a_model_error(tmp_path: Path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    svc = DetectorService(DetectorConfig(model=str(bad)))
    with pytest.raises(ModelError, match="not a loadable ONNX model") as error:
        svc.start()
    assert "\n" not in str(error.value)
    svc.stop()


def test_the_engine_runs_on_the_service(service: DetectorService, blob_config, walker_clip):
    config = VigilConfig(detector=blob_config.model_copy(update={"workers": 2}))
    frames = [Frame("walkers", i, i / 10, image) for i, image in enumerate(walker_clip.images())]
    size = (walker_clip.width, walker_clip.height)
    local_engine, _ = build_engine(config, size)
    with DetectorClient(service.handle, "walkers", (H, W), in_flight=2) as client:
        engine, _ = build_engine(config, size, client)
        served = list(engine.run(frames))
    local = list(local_engine.run(frames))
    assert sum(len(r.objects) for r in served) > 2 * len(frames)
    for a, b in zip(served, local):
        assert np.array_equal(a.objects.tracker_id, b.objects.tracker_id)
        assert np.allclose(a.objects.xyxy, b.objects.xyxy, atol=1e-3)


def test_a_ring_that_does_not_fit_in_shared_memory_is_refused(service: DetectorService):
    with pytest.raises(VigilError, match="refused client huge: cannot allocate .* /dev/shm"):
        DetectorClient(service.handle, "huge", (10**6, 10**6))  # 9 TB: more than any /dev/shm
    assert service.stats()["pid"] == service.pid  # still serving


class NullDetector:
    def detect(self, images):
        return [Detections.empty() for _ in images]


def test_batches_leave_a_share_to_idle_workers_and_wait_only_when_all_are_busy():
    from vigil.service.detector.server import _Peer, _Request, _Server, _Settings

    settings = _Settings(DetectorConfig(), "", b"", "", 8, 50.0, 2, 1, None)
    server = _Server(NullDetector(), settings)
    peer = _Peer(None, 1)
    peer.in_flight = 100  # never saturated: the wait is cut short only by its deadline
    server._peers.add(peer)
    image = np.zeros((8, 8, 3), np.uint8)

    def arrive(n: int) -> None:
        for _ in range(n):
            server._pending.append(_Request(peer, 0, [image], time.perf_counter()))
            peer.outstanding += 1

    arrive(8)
    assert len(server._next_batch()) == 4  # the other worker is idle: half each
    started = time.perf_counter()
    assert len(server._next_batch()) == 4  # both busy now: the rest, then it waits...
    assert time.perf_counter() - started > 0.04  # ...for more, up to max_wait_ms
    server._busy = 0  # both batches done
    arrive(1)
    started = time.perf_counter()
    assert len(server._next_batch()) == 1  # a worker is idle: no wait
    assert time.perf_counter() - started < 0.04


def test_every_wire_message_pickles_to_an_equal_one():
    from vigil.service.detector import messages as m

    info = m.ModelInfo((416, 320), dynamic=False, upscale=True)
    xyxy, conf, cls = np.ones((2, 4), np.float32), np.ones(2, np.float32), np.ones(2, np.int64)
    result = m.DetectResult(7, (1, 1), xyxy, conf, cls, 1.5, 2.5, 2, 1)
    sent = [
        m.Hello("cam1", 3, 1024, 2),
        m.ControlHello(),
        m.Welcome("seg", info),
        m.Refused("no shm"),
        m.DetectRequest(7, ((0, 320, 416), (399360, 16, 20))),
        m.DetectFailed(7, "bad request", lost=False),
        m.StatsRequest(),
        m.StatsReply({"pid": 1}),
        m.Ready(123, info, "on cpu (CPUExecutionProvider): detector.device is cpu"),
        m.StartFailed("ModelError", "bad model"),
    ]
    for message in sent:
        assert pickle.loads(pickle.dumps(message, pickle.HIGHEST_PROTOCOL)) == message
    back = pickle.loads(pickle.dumps(result, pickle.HIGHEST_PROTOCOL))
    assert (back.request_id, back.counts, back.queued_ms, back.batch_requests) == (
        7,
        (1, 1),
        1.5,
        1,
    )
    assert np.array_equal(back.xyxy, xyxy) and back.class_id.dtype == np.int64
