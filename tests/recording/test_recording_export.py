"""Export of a time range as one MP4 (remuxed, cut at keyframes) and event clips."""

from __future__ import annotations

import os
from pathlib import Path

import av
import pytest
from recording_helpers import FPS, T0, ffprobe, moov_before_mdat, open_stream, packets

from vigil.db.database import Database
from vigil.errors import VigilError
from vigil.recording.export import RecordingError, event_clip, export
from vigil.recording.index import SegmentIndex
from vigil.recording.segmenter import Segmenter


def record(index: SegmentIndex, clip: Path, folder: Path, camera: str = "cam1", **kw) -> None:
    """Record the clip into 10 s segments (0-10, 10-20, 20-25 s after T0) and index them."""
    container, stream = open_stream(clip)
    with container, Segmenter(camera, folder, on_segment=index.add, fsync=False) as seg:
        seg.start(stream)
        skip = kw.get("skip")
        for packet, wall in packets(clip):
            if skip is not None and skip[0] <= wall - T0 < skip[1]:
                if wall - T0 == skip[0]:
                    seg.gap()
                continue
            seg.write(packet, wall + kw.get("shift", 0.0))


@pytest.fixture
def index(tmp_path: Path):
    with Database(tmp_path / "vigil.db") as database:
        ix = SegmentIndex(database)
        yield ix


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


def check_export(path: Path, frames: int, codec: str = "h264") -> None:
    times = frame_times(path)
    assert len(times) == frames
    assert times[0] == pytest.approx(0.0, abs=1e-6)
    steps = {round(b - a, 6) for a, b in zip(times, times[1:])}
    assert steps == {round(1 / FPS, 6)}, "timestamps are not continuous"
    assert moov_before_mdat(path)
    probe = ffprobe(path)
    if probe is not None:
        assert probe["codec_name"] == codec
        assert int(probe["nb_read_frames"]) == frames
        assert float(probe["format"]["duration"]) == pytest.approx(frames / FPS, abs=1e-3)


@pytest.mark.parametrize("kind", ["h264", "h264_bframes"])
def test_export_across_three_segments(
    clips, index: SegmentIndex, tmp_path: Path, kind: str
) -> None:
    record(index, clips(kind).path, tmp_path / "rec")
    assert index.count() == 3
    out = export(index, "cam1", T0 + 3, T0 + 25, tmp_path / "out" / "range.mp4")
    assert out == tmp_path / "out" / "range.mp4"
    # The start snaps back to the keyframe at 2 s: frames 2.0 .. 24.9 s.
    check_export(out, 230)
    assert not list((tmp_path / "out").glob("*.part"))


def test_export_inside_one_segment(clips, index: SegmentIndex, tmp_path: Path) -> None:
    record(index, clips("h264").path, tmp_path / "rec")
    out = export(index, "cam1", T0 + 12.5, T0 + 14.05, tmp_path / "short.mp4")
    check_export(out, 21)  # 12.0 (keyframe) .. 14.0 s
    with av.open(str(out)) as c:
        first = next(c.demux(video=0))
        assert first.is_keyframe


def test_export_skips_holes(clips, index: SegmentIndex, tmp_path: Path) -> None:
    record(index, clips("h264").path, tmp_path / "rec", skip=(12, 17))
    assert index.gaps("cam1", T0, T0 + 25) == [(pytest.approx(T0 + 12), pytest.approx(T0 + 18))]
    out = export(index, "cam1", T0, T0 + 25, tmp_path / "holes.mp4")
    check_export(out, 100 + 20 + 70)


def test_event_clip_has_pre_and_post_roll(clips, index: SegmentIndex, tmp_path: Path) -> None:
    record(index, clips("h264").path, tmp_path / "rec")
    out = event_clip(index, "cam1", T0 + 15, T0 + 16, tmp_path / "clip.mp4")
    check_export(out, 110)  # 10.0 .. 20.9 s (15 - 5 is a keyframe; 16 + 5 ends at 21)
    instant = event_clip(
        index, "cam1", T0 + 5, None, tmp_path / "instant.mp4", pre_roll=1, post_roll=2
    )
    check_export(instant, 30)  # keyframe at 4 s .. 6.9 s


def test_hevc_export(clips, index: SegmentIndex, tmp_path: Path) -> None:
    record(index, clips("hevc").path, tmp_path / "rec")
    out = export(index, "cam1", T0, T0 + 30, tmp_path / "hevc.mp4")
    check_export(out, 250, codec="hevc")
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.codec_tag == "hvc1"


def test_no_footage_is_a_one_line_error(clips, index: SegmentIndex, tmp_path: Path) -> None:
    record(index, clips("h264").path, tmp_path / "rec")
    target = tmp_path / "none.mp4"
    with pytest.raises(RecordingError) as info:
        export(index, "cam1", T0 + 100, T0 + 200, target)
    message = str(info.value)
    assert isinstance(info.value, VigilError) and "\n" not in message
    assert "'cam1'" in message and "2023-11-14T22:15:00.000Z" in message
    assert "2023-11-14T22:16:40.000Z" in message
    assert not target.exists() and not list(tmp_path.glob("*.part"))
    with pytest.raises(RecordingError, match="'other'"):
        export(index, "other", T0, T0 + 10, target)
    with pytest.raises(RecordingError, match="not after"):
        export(index, "cam1", T0 + 10, T0 + 10, target)


def test_missing_files_are_skipped(clips, index: SegmentIndex, tmp_path: Path) -> None:
    record(index, clips("h264").path, tmp_path / "rec")
    middle = index.between("cam1", T0 + 12, T0 + 13)[0]
    os.unlink(middle.path)
    out = export(index, "cam1", T0, T0 + 25, tmp_path / "out.mp4")
    check_export(out, 150)
    for seg in index.between("cam1", T0, T0 + 25):
        Path(seg.path).unlink(missing_ok=True)
    with pytest.raises(RecordingError, match="no recordings"):
        export(index, "cam1", T0, T0 + 25, tmp_path / "out2.mp4")


def test_stream_change_is_reported(clips, index: SegmentIndex, tmp_path: Path) -> None:
    record(index, clips("h264").path, tmp_path / "rec")
    record(index, clips("hevc").path, tmp_path / "rec", shift=30.0)  # 30 s later
    with pytest.raises(
        RecordingError, match=r"stream changed at .*Z \(h264 320x240 -> hevc 320x240\)"
    ):
        export(index, "cam1", T0, T0 + 60, tmp_path / "mixed.mp4")
    assert not (tmp_path / "mixed.mp4").exists()
    # Each side on its own is fine.
    check_export(export(index, "cam1", T0, T0 + 26, tmp_path / "a.mp4"), 250)
    out = export(index, "cam1", T0 + 30, T0 + 60, tmp_path / "b.mp4")
    check_export(out, 250, codec="hevc")
