import shutil
import subprocess
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from vigil.errors import VigilError
from vigil.outputs.video import BackgroundVideoWriter, Encoding, VideoWriter
from x264_settings import x264_settings

W, H = 160, 120


def synthetic(i: int) -> np.ndarray:
    img = np.full((H, W, 3), 40, np.uint8)
    x = 10 + 3 * i
    img[40:80, x : x + 40] = (0, 0, 255)  # a red square moving right (BGR)
    return img


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        boxes.append(data[pos + 4 : pos + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if size < 8:
            break
        pos += size
    return boxes


@pytest.fixture(scope="module")
def one_second(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "out" / "clip.mp4"
    with VideoWriter(path, 30, W, H) as writer:
        for i in range(30):
            writer.write(synthetic(i))
        assert writer.frames == 30
    return path


def test_stream_properties(one_second: Path) -> None:
    with av.open(str(one_second)) as container:
        stream = container.streams.video[0]
        assert container.format.name.split(",")[0] in ("mov", "mp4")
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (W, H)
        assert stream.average_rate == 30
        frames = list(container.decode(stream))
        assert len(frames) == 30
        assert container.duration / 1e6 == pytest.approx(1.0, abs=0.02)
        assert [round(f.time * 30) for f in frames] == list(range(30))
        # colours survive (BGR in, BGR out): centre of the red square in frame 10
        img = frames[10].to_ndarray(format="bgr24")
        b, g, r = img[60, 40 + 20].astype(int)
        assert r > 200 and g < 60 and b < 60


def test_faststart_puts_moov_before_mdat(one_second: Path) -> None:
    boxes = top_level_boxes(one_second)
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


def test_encoder_settings_are_applied(one_second: Path) -> None:
    settings = x264_settings(one_second)
    # preset veryfast, except the sub-pixel refinement of superfast and diamond motion search
    # (X264_PARAMS)
    assert settings["subme"] == "1" and settings["analyse"] == "0x3:0x113"
    assert (
        settings["me"] == "dia" and settings["mbtree"] == "1" and settings["rc_lookahead"] == "10"
    )
    assert settings["rc"] == "crf" and float(settings["crf"]) == 23


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not on PATH")
def test_ffprobe_reports_no_errors(one_second: Path) -> None:
    proc = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,pix_fmt,nb_frames",
            "-of",
            "csv=p=0",
            str(one_second),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stderr.strip() == ""
    assert proc.stdout.strip() == "h264,yuv420p,30"


def test_given_pts_and_odd_size(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    pts = [0.0, 0.1, 0.25, 0.25, 0.5]  # the repeated 0.25 is moved one tick later
    with VideoWriter(path, 10, 33, 21) as writer:
        assert (writer.encoded_width, writer.encoded_height) == (34, 22)
        for t in pts:
            writer.write(np.zeros((21, 33, 3), np.uint8), pts=t)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (34, 22)
        times = [f.time for f in container.decode(stream)]
    assert times[:3] == pytest.approx([0.0, 0.1, 0.25], abs=1e-4)
    assert 0.25 < times[3] < 0.2501
    assert times[4] == pytest.approx(0.5, abs=1e-4)


def test_misuse(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "x.mp4", 25, W, H)
    with pytest.raises(ValueError, match="expected a BGR uint8 frame of 160x120"):
        writer.write(np.zeros((H, W + 2, 3), np.uint8))
    writer.write(synthetic(0))
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        writer.write(synthetic(1))
    with pytest.raises(ValueError, match="fps must be > 0"):
        VideoWriter(tmp_path / "y.mp4", 0, W, H)


def test_unwritable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(VigilError, match="cannot write video"):
        VideoWriter(blocker / "clip.mp4", 25, W, H)


# --------------------------------------------------------------------------- BackgroundVideoWriter


class RecordingWriter(VideoWriter):
    """A real `VideoWriter` that notes the thread of each `write` and can fail on one frame."""

    def __init__(self, *args, fail_at: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.threads: list[str] = []
        self.fail_at = fail_at

    def write(self, image: np.ndarray, pts: float | None = None) -> None:
        if self.frames == self.fail_at:
            raise OSError("No space left on device")
        self.threads.append(threading.current_thread().name)
        super().write(image, pts)


def decoded(path: Path) -> tuple[list[float], list[np.ndarray]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(container.streams.video[0]))
    return [f.time for f in frames], [f.to_ndarray(format="bgr24") for f in frames]


def square_left_edge(image: np.ndarray) -> int:
    """Column where `synthetic`'s red square starts on its middle row."""
    return int(np.flatnonzero(image[60, :, 2] > 200)[0])


def test_background_writer_encodes_on_its_own_thread(tmp_path: Path) -> None:
    path = tmp_path / "bg.mp4"
    inner = RecordingWriter(path, 10, W, H)
    with BackgroundVideoWriter(inner) as writer:
        for i in range(12):
            writer.write(synthetic(i), pts=i / 10)
    assert writer.frames == inner.frames == 12
    assert set(inner.threads) == {"vigil-encode"} != {threading.current_thread().name}
    times, images = decoded(path)
    assert times == pytest.approx([i / 10 for i in range(12)], abs=1e-4)
    edges = [square_left_edge(img) for img in images]
    assert edges == pytest.approx([10 + 3 * i for i in range(12)], abs=1)  # 4:2:0 chroma


def test_background_writer_draws_each_frame_with_its_own_overlay(tmp_path: Path) -> None:
    path = tmp_path / "drawn.mp4"
    drawn_on: list[str] = []

    def mark(image: np.ndarray, column: int) -> np.ndarray:
        drawn_on.append(threading.current_thread().name)
        out = image.copy()
        out[:, column : column + 8] = 255
        return out

    sources = [synthetic(i) for i in range(12)]
    with BackgroundVideoWriter(VideoWriter(path, 10, W, H), draw=mark) as writer:
        for i, image in enumerate(sources):
            writer.write(image, i / 10, 100 + 4 * i)
    assert set(drawn_on) == {"vigil-encode"} and len(drawn_on) == 12
    assert all(np.array_equal(img, synthetic(i)) for i, img in enumerate(sources))  # untouched
    times, images = decoded(path)
    assert times == pytest.approx([i / 10 for i in range(12)], abs=1e-4)
    white = [int(np.flatnonzero(img[10, :, 1] > 200)[0]) for img in images]  # row 10: grey
    assert white == pytest.approx([100 + 4 * i for i in range(12)], abs=1)
    assert [square_left_edge(img) for img in images] == pytest.approx(
        [10 + 3 * i for i in range(12)], abs=1
    )


def test_background_writer_keeps_every_frame_when_the_caller_fails(tmp_path: Path) -> None:
    """An error or interrupt in the analysis still leaves a complete, frame-exact video."""
    path = tmp_path / "interrupted.mp4"
    writer = BackgroundVideoWriter(VideoWriter(path, 10, W, H), depth=2)
    with pytest.raises(KeyboardInterrupt), writer:
        for i in range(25):
            writer.write(synthetic(i))
        raise KeyboardInterrupt
    assert top_level_boxes(path)[-1] in ("mdat", "moov")  # finished: index written
    times, images = decoded(path)
    assert times == pytest.approx([i / 10 for i in range(25)], abs=1e-4)
    assert square_left_edge(images[-1]) == pytest.approx(10 + 3 * 24, abs=1)


def test_background_writer_reports_an_encoding_error(tmp_path: Path) -> None:
    path = tmp_path / "failed.mp4"
    writer = BackgroundVideoWriter(RecordingWriter(path, 10, W, H, fail_at=5), depth=2)
    with pytest.raises(OSError, match="No space left"):
        for i in range(50):  # the error surfaces on a later write, or at the latest on close
            writer.write(synthetic(i))
        writer.close()
    writer.close()
    times, _ = decoded(path)
    assert len(times) == 5  # what was encoded before the error is kept, in a valid file


def test_background_writer_misuse(tmp_path: Path) -> None:
    writer = BackgroundVideoWriter(VideoWriter(tmp_path / "x.mp4", 25, W, H))
    with pytest.raises(ValueError, match="expected a BGR uint8 frame of 160x120"):
        writer.write(np.zeros((H, W + 2, 3), np.uint8))  # checked at once, in the caller
    writer.write(synthetic(0))
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        writer.write(synthetic(1))


def test_colours_are_converted_faithfully(tmp_path: Path) -> None:
    """Losslessly encoded (crf 0), a colourful picture comes back within the rounding of
    4:2:0 chroma: PSNR over 43 dB (libswscale's default conversion, used before, gave 40.3)."""
    ys, xs = np.mgrid[0:H, 0:W]
    picture = np.stack([xs * 255 // W, ys * 255 // H, (xs + ys) * 255 // (W + H)], axis=2)
    picture = picture.astype(np.uint8)
    with VideoWriter(tmp_path / "c.mp4", 30, W, H, encoding=Encoding(crf=0)) as writer:
        writer.write(picture)
    with av.open(str(tmp_path / "c.mp4")) as container:
        back = next(container.decode(video=0)).to_ndarray(format="bgr24")
    mse = np.mean((back.astype(float) - picture) ** 2)
    assert 10 * np.log10(255**2 / mse) > 43
