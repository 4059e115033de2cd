"""Recorded footage served masked (decode -> mask with the stored boxes -> encode), on a
segment of the real clip with the boxes the real engine tracked in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from playback_helpers import (
    RealSegment,
    assert_people_masked,
    decoded,
    person_boxes,
    sharpness,
)

from vigil.config.privacy import PrivacySettings
from vigil.privacy.boxes import BoxTrack, FrameBoxes, boxes_path, write_boxes
from vigil.privacy.reencode import MaskRequest, Span, masked_copy, masked_stream

pytestmark = pytest.mark.integration
T0 = 1_700_000_000.0


def whole(segment: RealSegment) -> list[Span]:
    return [Span(segment.path, T0, T0, T0 + 3600)]


@pytest.mark.parametrize("mode", ["blur", "pixelate", "solid"])
def test_people_are_unrecognisable_in_masked_playback(
    real_segment: RealSegment, tmp_path: Path, mode: str
) -> None:
    request = MaskRequest(PrivacySettings(mask=["person"], mode=mode))
    result = masked_copy(whole(real_segment), tmp_path / "masked.mp4", request)
    assert result.frames == real_segment.frames and result.whole_frames == 0
    original, masked = decoded(real_segment.path), decoded(result.path)
    assert len(masked) == len(original)
    measured = assert_people_masked(masked, original, real_segment.track)
    assert measured >= 20  # the clip's walkers were found and measured
    # Only the people: the ground far from any box keeps its detail.
    ground = np.array([0, 0, 120, 80], np.float32)  # the top-left corner, where nobody walks
    assert sharpness(masked[10], ground) >= 0.5 * sharpness(original[10], ground)


def test_a_range_is_cut_at_frame_accuracy_and_masked_whole_without_boxes(
    real_segment: RealSegment, tmp_path: Path
) -> None:
    request = MaskRequest(PrivacySettings(mask=["person"]))
    spans = [Span(real_segment.path, T0, T0 + 0.95, T0 + 2.05)]  # frames 10..20
    result = masked_copy(spans, tmp_path / "cut.mp4", request)
    assert result.frames == 11 and result.masked_frames == 11
    # Without stored boxes nothing says where people are: every frame is masked whole.
    copy = tmp_path / real_segment.path.name
    copy.write_bytes(real_segment.path.read_bytes())
    result = masked_copy([Span(copy, T0, T0, T0 + 1.0)], tmp_path / "blind.mp4", request)
    assert not boxes_path(copy).exists() and result.whole_frames == result.frames == 10
    frame = decoded(result.path)[5]
    sharp = decoded(real_segment.path)[5]
    everything = np.array([0, 0, frame.shape[1], frame.shape[0]], np.float32)
    assert sharpness(frame, everything) <= 0.3 * sharpness(sharp, everything)


def test_static_polygons_are_masked_for_everyone(real_segment: RealSegment, tmp_path: Path) -> None:
    settings = PrivacySettings.model_validate(
        {"static": [{"points": [[0, 0], [0.3, 0], [0.3, 0.3], [0, 0.3]]}]}
    )
    request = MaskRequest(settings, mask_objects=False)
    result = masked_copy(whole(real_segment), tmp_path / "static.mp4", request)
    frame, sharp = decoded(result.path)[3], decoded(real_segment.path)[3]
    corner = np.array([0, 0, 0.3 * frame.shape[1] - 2, 0.3 * frame.shape[0] - 2], np.float32)
    assert sharpness(frame, corner) <= 0.3 * sharpness(sharp, corner)
    outside = np.array([0.5 * frame.shape[1], 0, frame.shape[1], 0.3 * frame.shape[0]])
    assert sharpness(frame, outside) >= 0.5 * sharpness(sharp, outside)


def test_masked_stream_plays_as_it_is_encoded_and_is_kept_once_complete(
    real_segment: RealSegment, tmp_path: Path
) -> None:
    """Playback's stream: a fragmented MP4 whose header goes out before any frame is done
    and then a fragment a second; the whole of it kept once complete, nothing kept of a
    stream the client left."""
    request = MaskRequest(PrivacySettings(mask=["person"], mode="pixelate"))
    kept = tmp_path / "cache" / "segment.mp4"
    kept.parent.mkdir()
    chunks = list(masked_stream(whole(real_segment), request, keep=kept))
    assert chunks[0][4:8] == b"ftyp" and b"mdat" not in chunks[0]  # the header alone
    fragments = [c for c in chunks if c[4:8] == b"moof"]
    assert len(fragments) >= real_segment.frames // 10  # 3 s at 10 fps: one a second
    assert kept.read_bytes() == b"".join(chunks)
    original, masked = decoded(real_segment.path), decoded(kept)
    assert len(masked) == len(original)
    assert assert_people_masked(masked, original, real_segment.track) >= 20

    kept.unlink()
    stream = masked_stream(whole(real_segment), request, keep=kept)
    next(stream), next(stream)
    stream.close()  # the client went away
    assert list(kept.parent.iterdir()) == []
    with pytest.raises(LookupError):
        next(masked_stream([Span(real_segment.path, T0, T0 + 3600, T0 + 3601)], request))


def test_a_subject_access_copy_keeps_the_subjects_untracked_duplicates_visible(
    real_segment: RealSegment, tmp_path: Path
) -> None:
    """Stored with the subject's track: a weaker untracked box on the subject (kept
    visible) and an untracked one elsewhere (masked)."""
    boxes, _ = person_boxes(real_segment.track, 1.0)
    assert len(boxes) >= 2
    subject = boxes[0]
    other = boxes[np.argmax(np.abs(boxes[:, 0] - subject[0]))]  # the farthest from it
    copy = tmp_path / real_segment.path.name
    copy.write_bytes(real_segment.path.read_bytes())
    stored = np.stack([subject, subject + [3, 2, 3, 2], other]).astype(np.float32)
    write_boxes(
        copy,
        BoxTrack.from_frames(
            [FrameBoxes(t, stored, np.array([7, -1, -1]), ["person"] * 3) for t in (0.0, 3.0)]
        ),
    )
    request = MaskRequest(PrivacySettings(mask=["person"], mode="pixelate"), keep_track=7)
    result = masked_copy([Span(copy, T0, T0, T0 + 3600)], tmp_path / "dsar.mp4", request)
    frame, sharp = decoded(result.path)[10], decoded(real_segment.path)[10]
    assert sharpness(frame, subject) >= 0.7 * sharpness(sharp, subject)
    assert sharpness(frame, other) <= 0.3 * sharpness(sharp, other)
