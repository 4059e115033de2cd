"""`run_job`'s annotated video: encoded on its own thread, alongside the analysis, and still
complete and frame-exact when the run is interrupted; the analysis itself is unaffected. The
run's threads are its own: one encoder thread, and OpenCV's pool off while it runs."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import cv2
import pytest

from vigil.config.loader import load_config_text
from vigil.db.database import DatabaseError
from vigil.pipeline.job import run_job
from x264_settings import x264_settings

CONFIG = """\
source:
  url: {clip}
detector:
  input_size: [416, 320]
output:
  directory: {out}
  video: {video}
  mot: {out}/tracks.txt
"""


@pytest.fixture(autouse=True)
def tiny_detector(monkeypatch: pytest.MonkeyPatch, tiny_models: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(tiny_models))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def config(clip: Path, out: Path, video: bool = True):
    return load_config_text(CONFIG.format(clip=clip, out=out, video=str(video).lower()))


def decoded_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [f.time for f in container.decode(container.streams.video[0])]


def test_video_is_encoded_on_its_own_thread_during_the_run(walker_clip, tmp_path: Path) -> None:
    threads_seen: list[set[str]] = []
    run_job(
        config(walker_clip.path, tmp_path / "out"),
        on_frame=lambda _: threads_seen.append({t.name for t in threading.enumerate()}),
    )
    assert all("vigil-encode" in names for names in threads_seen)
    assert "vigil-encode" not in {t.name for t in threading.enumerate()}  # joined at the end
    times = decoded_times(tmp_path / "out" / "annotated.mp4")
    assert times == pytest.approx([i / walker_clip.fps for i in range(walker_clip.frames)])


def test_video_is_encoded_by_one_encoder_thread_with_the_analysis_settings(
    walker_clip, tmp_path: Path
) -> None:
    """The analysis keeps the other cores busy: libx264's slice threads would only add their
    synchronisation (and slices cost compression). The settings: half the default settings'
    CPU for their quality (`ANALYSIS_ENCODING`)."""
    run_job(config(walker_clip.path, tmp_path / "out"))
    settings = x264_settings(tmp_path / "out" / "annotated.mp4")
    assert (settings["threads"], settings["sliced_threads"]) == ("1", "0")
    assert (settings["cabac"], settings["mbtree"], settings["subme"]) == ("0", "0", "0")
    assert (settings["bframes"], settings["8x8dct"], settings["deblock"]) == ("2", "1", "1:0:0")
    assert float(settings["crf"]) == 25.5


def test_opencv_pool_is_off_during_the_run_only(walker_clip, tmp_path: Path) -> None:
    before = cv2.getNumThreads()
    assert before > 1  # else the test proves nothing
    seen: set[int] = set()
    run_job(
        config(walker_clip.path, tmp_path / "out"), on_frame=lambda _: seen.add(cv2.getNumThreads())
    )
    assert seen == {1}  # setNumThreads(0): OpenCV runs each call on the calling thread
    assert cv2.getNumThreads() == before


def test_interrupted_run_keeps_a_complete_frame_exact_video(walker_clip, tmp_path: Path) -> None:
    seen = 0

    def interrupt_after_ten(_) -> None:
        nonlocal seen
        seen += 1
        if seen == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(config(walker_clip.path, tmp_path / "out"), on_frame=interrupt_after_ten)
    times = decoded_times(tmp_path / "out" / "annotated.mp4")
    assert times == pytest.approx([i / walker_clip.fps for i in range(10)])


def test_tracks_are_the_same_with_and_without_video(walker_clip, tmp_path: Path) -> None:
    run_job(config(walker_clip.path, tmp_path / "with"))
    run_job(config(walker_clip.path, tmp_path / "without", video=False))
    with_video = (tmp_path / "with" / "tracks.txt").read_text()
    assert with_video  # the walkers were tracked
    assert with_video == (tmp_path / "without" / "tracks.txt").read_text()
    assert not (tmp_path / "without" / "annotated.mp4").exists()


def test_a_database_that_cannot_be_opened_stops_the_run_with_one_error(
    walker_clip, tmp_path: Path
) -> None:
    """The database opens on a thread of its own while the analysis starts: when it cannot
    be opened, the run stops with its one-line error as soon as that is known, not after
    analysing the whole video."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "events.db").write_text("not a database")
    analysed: list[int] = []
    with pytest.raises(DatabaseError, match="events.db: file is not a database"):
        run_job(config(walker_clip.path, out), on_frame=lambda r: analysed.append(r.frame.index))
    assert len(analysed) < walker_clip.frames
