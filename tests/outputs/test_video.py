import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from vigil.errors import VigilError
from vigil.outputs.video import VideoWriter

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
