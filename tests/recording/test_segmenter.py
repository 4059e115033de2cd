"""Segmenter: packets remuxed into ~10 s MP4 segments cut at keyframes; crash recovery."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import pytest
from recording_helpers import (
    FPS,
    T0,
    decoded_frames,
    ffprobe,
    moov_before_mdat,
    open_stream,
    packets,
)

from vigil.recording.segmenter import Segmenter, camera_dirname, recover, segment_path
from vigil.recording.segments import SegmentInfo

REPO = Path(__file__).resolve().parents[2]


def record(clip_path: Path, directory: Path, camera: str = "cam1", **kwargs) -> list[SegmentInfo]:
    infos: list[SegmentInfo] = []
    container, stream = open_stream(clip_path)
    with container, Segmenter(camera, directory, on_segment=infos.append, **kwargs) as seg:
        seg.start(stream)
        for packet, wall in packets(clip_path):
            seg.write(packet, wall)
    return infos


def check_playable(info: SegmentInfo, frames: int, codec: str = "h264") -> None:
    path = Path(info.path)
    assert path.suffix == ".mp4" and path.is_file()
    assert info.size_bytes == path.stat().st_size
    assert decoded_frames(path) == frames
    assert moov_before_mdat(path), "not faststart"
    probe = ffprobe(path)
    if probe is not None:
        assert probe["codec_name"] == codec
        assert int(probe["nb_read_frames"]) == frames
        assert float(probe["start_time"]) == pytest.approx(0.0, abs=1e-3)
        assert float(probe["duration"]) == pytest.approx(frames / FPS, abs=1e-3)


@pytest.mark.parametrize("kind", ["h264", "h264_bframes", "h264_raw"])
def test_segments_cut_at_keyframes(clips, tmp_path: Path, kind: str) -> None:
    clip = clips(kind)
    infos = record(clip.path, tmp_path / "rec")
    # 25 s with a keyframe every 2 s: cuts at the first keyframes >= 10 s after each start.
    assert [round(i.start_time - T0, 3) for i in infos] == [0.0, 10.0, 20.0]
    assert [round(i.end_time - i.start_time, 3) for i in infos] == [10.0, 10.0, 5.0]
    for info, frames in zip(infos, [100, 100, 50]):
        assert info.camera == "cam1"
        check_playable(info, frames)
    assert not list((tmp_path / "rec").rglob("*.part")) and not list(
        (tmp_path / "rec").rglob("*.tmp")
    )


def test_paths_and_names(clips, tmp_path: Path) -> None:
    infos = record(clips("h264").path, tmp_path, camera="front door/1")
    first = Path(infos[0].path)
    assert first == tmp_path / "front_door_1" / "2023-11-14" / "22-13-20.000.mp4"
    assert Path(infos[1].path).name == "22-13-30.000.mp4"
    assert infos[0].camera == "front door/1"
    assert camera_dirname("..") == "_.." and camera_dirname("a.b-c_d") == "a.b-c_d"
    assert segment_path(tmp_path, "c", T0 + 0.25).name == "22-13-20.250.mp4"
    # A second recording of the same instant does not overwrite the first.
    again = record(clips("h264").path, tmp_path, camera="front door/1")
    assert Path(again[0].path).name == "22-13-20.000-1.mp4"


def test_hevc_is_tagged_hvc1(clips, tmp_path: Path) -> None:
    clip = clips("hevc")
    infos = record(clip.path, tmp_path)
    assert len(infos) == 3
    for info, frames in zip(infos, [100, 100, 50]):
        check_playable(info, frames, codec="hevc")
        with av.open(info.path) as c:
            assert c.streams.video[0].codec_context.codec_tag == "hvc1"


def test_starts_at_first_keyframe_and_leaves_packets_alone(clips, tmp_path: Path) -> None:
    clip = clips("h264")
    infos: list[SegmentInfo] = []
    container, stream = open_stream(clip.path)
    seen = []
    with container, Segmenter("cam", tmp_path, on_segment=infos.append) as seg:
        seg.start(stream)
        for n, (packet, wall) in enumerate(packets(clip.path)):
            if n < 5:
                continue  # join mid-GOP: the first keyframe is at 2 s
            before = (packet.pts, packet.dts, packet.stream.index, bytes(packet))
            seg.write(packet, wall)
            seen.append(before == (packet.pts, packet.dts, packet.stream.index, bytes(packet)))
        assert seg.dropped_packets == 15
    assert all(seen)
    assert [round(i.start_time - T0, 3) for i in infos] == [2.0, 12.0, 22.0]
    assert [decoded_frames(i.path) for i in infos] == [100, 100, 30]


def test_mark_sets_flags_of_the_open_segment(clips, tmp_path: Path) -> None:
    clip = clips("h264")
    infos: list[SegmentInfo] = []
    container, stream = open_stream(clip.path)
    with container, Segmenter("cam", tmp_path, on_segment=infos.append) as seg:
        seg.mark(motion=True, objects=True)  # no segment open yet: ignored
        seg.start(stream)
        for packet, wall in packets(clip.path):
            seg.write(packet, wall)
            t = wall - T0
            if 12 <= t < 13:
                seg.mark(motion=True, objects=False)
            if 21 <= t < 22:
                seg.mark(objects=True)
    assert [(i.motion, i.objects) for i in infos] == [(False, False), (True, False), (False, True)]


def test_gap_ends_the_segment_and_resumes_at_a_keyframe(clips, tmp_path: Path) -> None:
    clip = clips("h264")
    infos: list[SegmentInfo] = []
    container, stream = open_stream(clip.path)
    with container, Segmenter("cam", tmp_path, on_segment=infos.append) as seg:
        seg.start(stream)
        for packet, wall in packets(clip.path):
            t = wall - T0
            if 12 <= t < 17:
                if t == 12:
                    seg.gap()  # the stream is lost for 5 s
                    assert not seg.recording
                continue
            seg.write(packet, wall)
    spans = [(round(i.start_time - T0, 3), round(i.end_time - T0, 3)) for i in infos]
    assert spans == [(0.0, 10.0), (10.0, 12.0), (18.0, 25.0)]
    assert [decoded_frames(i.path) for i in infos] == [100, 20, 70]


def test_restart_with_a_new_stream(clips, tmp_path: Path) -> None:
    """A reconnect: start() again with the new stream; the old input may be closed first."""
    clip = clips("h264")
    infos: list[SegmentInfo] = []
    seg = Segmenter("cam", tmp_path, on_segment=infos.append)
    container, stream = open_stream(clip.path)
    seg.start(stream)
    for n, (packet, wall) in enumerate(packets(clip.path)):
        if n == 50:
            break
        seg.write(packet, wall)
    container.close()
    container, stream = open_stream(clip.path)
    with container:
        seg.start(stream)  # finishes the 5 s segment
        assert len(infos) == 1
        for packet, wall in packets(clip.path):
            seg.write(packet, wall + 60)
    seg.close()
    seg.close()  # idempotent
    assert [round(i.end_time - i.start_time, 3) for i in infos] == [5.0, 10.0, 10.0, 5.0]
    with pytest.raises(RuntimeError, match="closed"):
        seg.write(packet, T0)


def test_backwards_timestamps_end_the_segment(clips, tmp_path: Path) -> None:
    clip = clips("h264")
    infos: list[SegmentInfo] = []
    container, stream = open_stream(clip.path)
    all_packets = list(packets(clip.path))
    with container, Segmenter("cam", tmp_path, on_segment=infos.append) as seg:
        seg.start(stream)
        for packet, wall in all_packets[:65]:
            seg.write(packet, wall)
        for packet, wall in all_packets[:65]:  # the camera's clock restarts
            seg.write(packet, wall + 6.5)
        assert seg.last_error is not None and "jumped" in seg.last_error
    assert [decoded_frames(i.path) for i in infos] == [65, 65]


def test_write_before_start(tmp_path: Path) -> None:
    seg = Segmenter("cam", tmp_path)
    with pytest.raises(RuntimeError, match="start"):
        seg.write(av.Packet(b"\x00" * 10), T0)
    with pytest.raises(ValueError):
        Segmenter("cam", tmp_path, segment_seconds=0)


# --------------------------------------------------------------------------- crashes

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import av
    from vigil.recording.segmenter import Segmenter
    clip, directory, stop, camera = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    seg = Segmenter(camera, directory, on_segment=lambda i: print(i.path, flush=True))
    with av.open(clip) as c:
        stream = c.streams.video[0]
        seg.start(stream)
        n = 0
        for packet in c.demux(stream):
            if packet.size == 0:
                continue
            seg.write(packet, 1_700_000_000.0 + n / 10)
            n += 1
            if n == stop:
                os.kill(os.getpid(), signal.SIGKILL)
    """
)


def run_and_kill(clip: Path, directory: Path, stop: int, camera: str = "cam1") -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-c", KILLER, str(clip), str(directory), str(stop), camera],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == -signal.SIGKILL, result.stderr
    return result.stdout.split()


def test_killed_process_leaves_a_journal_that_recover_repairs(clips, tmp_path: Path) -> None:
    clip = clips("h264")
    # Killed 5.7 s into segment 2; the camera's folder name differs from its name.
    finished = run_and_kill(clip.path, tmp_path, stop=157, camera="cam 1")
    assert len(finished) == 1
    journals = list(tmp_path.rglob("*.mp4.part"))
    assert len(journals) == 1
    saved = recover(tmp_path)
    assert len(saved) == 1
    info = saved[0]
    assert info.camera == "cam 1" and info.start_time == pytest.approx(T0 + 10)
    assert info.path == str(journals[0]).removesuffix(".part")
    assert info.motion  # unknown after a crash: kept as footage with motion
    frames = decoded_frames(info.path)
    # Whole 1 s fragments survive: at least 5 of the 5.7 s written.
    assert 50 <= frames <= 57
    assert info.end_time - info.start_time == pytest.approx(frames / FPS, abs=1e-3)
    probe = ffprobe(info.path)
    if probe is not None:
        assert int(probe["nb_read_frames"]) == frames
    assert moov_before_mdat(info.path)
    assert not list(tmp_path.rglob("*.part"))
    assert recover(tmp_path) == []  # nothing left to do


@pytest.mark.parametrize("keep", [1.0, 0.97, 0.6, 0.3, 0.08, 0.01])
def test_recover_journals_cut_anywhere(clips, tmp_path: Path, keep: float) -> None:
    """Whatever byte the kill happened at, recovery leaves a playable file or nothing."""
    clip = clips("h264")
    run_and_kill(clip.path, tmp_path / "a", stop=185)
    journal = next((tmp_path / "a").rglob("*.mp4.part"))
    data = journal.read_bytes()
    journal.write_bytes(data[: int(len(data) * keep)])
    (journal.parent / "22-13-30.000.mp4.tmp").write_bytes(b"half a remux")
    saved = recover(tmp_path / "a", fsync=False)
    assert not list((tmp_path / "a").rglob("*.part"))
    assert not list((tmp_path / "a").rglob("*.tmp"))
    if saved:
        frames = decoded_frames(saved[0].path)
        assert 0 < frames <= 85
        if keep == 1.0:
            assert frames >= 80
        probe = ffprobe(saved[0].path)  # fails on any error output
        assert probe is None or int(probe["nb_read_frames"]) == frames
    else:
        assert keep <= 0.1
        assert not journal.with_name(journal.name.removesuffix(".part")).exists()


def test_recover_after_the_rename_reports_the_segment_again(clips, tmp_path: Path) -> None:
    """Killed between the rename and the journal's deletion: the segment may not have been
    indexed, so recover() returns it again (the index takes it idempotently)."""
    infos: list[SegmentInfo] = []
    container, stream = open_stream(clips("h264").path)
    with container, Segmenter("cam1", tmp_path, on_segment=infos.append) as seg:
        seg.start(stream)
        for packet, wall in packets(clips("h264").path):
            seg.write(packet, wall)
            seg.mark(objects=wall - T0 < 3)
    final = Path(infos[0].path)
    journal = final.with_name(final.name + ".part")
    journal.write_bytes(b"stale")
    saved = recover(tmp_path)
    assert [s.path for s in saved] == [str(final)]
    assert saved[0].start_time == pytest.approx(infos[0].start_time)
    assert saved[0].end_time == pytest.approx(infos[0].end_time)
    assert (saved[0].motion, saved[0].objects) == (False, True)  # from the file's metadata
    assert not journal.exists() and final.exists()


def test_recover_missing_directory(tmp_path: Path) -> None:
    assert recover(tmp_path / "nope") == []


def test_parameter_sets_only_in_band(clips, tmp_path: Path, monkeypatch) -> None:
    """An RTSP camera whose SDP carries no SPS/PPS: the stream has no extradata and the
    parameter sets come in the keyframes. The MP4 header is built from the first one."""
    import vigil.recording.segmenter as segmenter_module

    real = segmenter_module.parameter_holder

    def without_extradata(template):
        holder, stream = real(template)
        stream.codec_context.extradata = None
        return holder, stream

    monkeypatch.setattr(segmenter_module, "parameter_holder", without_extradata)
    infos = record(clips("h264_raw").path, tmp_path)
    assert len(infos) == 3
    for info, frames in zip(infos, [100, 100, 50]):
        check_playable(info, frames)


def test_other_codecs_are_not_recorded(tmp_path: Path) -> None:
    """An MJPEG camera: recording needs re-encoding, so it is refused (logged, kept in
    last_error) without breaking the worker's loop."""
    path = tmp_path / "mjpeg.avi"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for i in range(5):
            frame = av.VideoFrame(64, 48, "yuvj420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    infos: list[SegmentInfo] = []
    container, stream = open_stream(path)
    with container, Segmenter("cam", tmp_path / "rec", on_segment=infos.append) as seg:
        seg.start(stream)
        assert seg.last_error is not None and "cannot record codec mjpeg" in seg.last_error
        for packet in container.demux(stream):
            seg.write(packet, T0)
        assert seg.dropped_packets == 5
    assert infos == [] and not (tmp_path / "rec").exists()


def test_rtsp_like_packets_without_durations_and_a_clock_jump(clips, tmp_path: Path) -> None:
    """Durations come from the next packet's decode time; a forward jump of the camera's
    clock ends the segment without stretching its last frame."""
    clip = clips("h264")
    infos: list[SegmentInfo] = []
    container, stream = open_stream(clip.path)
    jump = round(30 / stream.time_base)
    with container, Segmenter("cam", tmp_path, on_segment=infos.append) as seg:
        seg.start(stream)
        for n, (packet, wall) in enumerate(packets(clip.path)):
            packet.duration = 0
            if n >= 150:
                packet.pts += jump
                packet.dts += jump
            seg.write(packet, wall)
        assert "jumped by +30.100 s" in (seg.last_error or "")
    assert [round(i.start_time - T0, 3) for i in infos] == [0.0, 10.0, 16.0]
    assert [round(i.end_time - i.start_time, 3) for i in infos] == [10.0, 5.0, 9.0]
    for info, frames in zip(infos, [100, 50, 90]):
        check_playable(info, frames)


def test_recording_pauses_under_the_free_space_floor(clips, tmp_path: Path, caplog) -> None:
    """No segment starts while the disk has less free space than the floor (the database
    shares the disk); recording resumes at the next keyframe once there is room again."""
    clip = clips("h264")
    infos: list[SegmentInfo] = []
    free = shutil.disk_usage(tmp_path).free
    container, stream = open_stream(clip.path)
    with container, Segmenter("cam1", tmp_path, on_segment=infos.append) as seg:
        seg.min_free_bytes = free + 10**12  # a disk fuller than the floor allows
        seg.start(stream)
        for i, (packet, wall) in enumerate(packets(clip.path)):
            if i == 120:  # 12 s in: room again
                seg.min_free_bytes = 1
            seg.write(packet, wall)
        assert seg.dropped_packets >= 120 and "recording paused" in str(seg.last_error)
    assert not list(tmp_path.rglob("*.part")) and "under the" in caplog.text
    # Nothing of the first 12 s; the keyframe at 12 s (one every 2 s) starts the footage.
    assert [round(i.start_time - T0, 3) for i in infos] == [12.0, 22.0]
