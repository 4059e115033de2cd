"""``queue`` and ``zone_transit`` through the real engine and model on the sample clip's
first 40 s: people walk through the lower half of the view (PETS09 S2.L1, 768x576)."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest

from vigil.config.schema import VigilConfig
from vigil.pipeline.build import build_engine
from vigil.sources.video import VideoSource

pytestmark = pytest.mark.integration

LOWER_HALF = [[0, 288], [768, 288], [768, 576], [0, 576]]


def test_entrances_exits_and_the_queue_agree_on_the_sample_clip(
    shared_model: Path, shared_clip: Path
):
    config = VigilConfig.model_validate(
        {
            "detector": {"model": str(shared_model)},
            "zones": {"lower": {"points": LOWER_HALF}},
            "apps": [
                {"type": "zone_transit", "name": "doors", "settings": {"zone": "lower"}},
                {
                    "type": "queue",
                    "name": "line",
                    "settings": {"zone": "lower", "report_interval": 5},
                },
            ],
        }
    )
    source = VideoSource(shared_clip)
    engine, _ = build_engine(config, (source.width, source.height))
    frames = itertools.islice(VideoSource(shared_clip), 400)
    events = [e for r in engine.run(frames) for e in r.events]
    by_type = Counter(e.type for e in events)
    # People cross the lower half: entries and exits, each exit after its entry, a dwell
    # between a fraction of a second and the clip's 40 s.
    assert by_type["entered"] >= 5 and by_type["exited"] >= 3, by_type
    # Per track, entries and exits alternate, starting with an entry; each dwell is the
    # time from that entry.
    transits = [e for e in events if e.type in ("entered", "exited")]
    for track in {e.track_id for e in transits}:
        own = [e for e in transits if e.track_id == track]
        assert [e.type for e in own] == ["entered", "exited"] * (len(own) // 2) + (
            ["entered"] if len(own) % 2 else []
        )
        for entry, exit_ in zip(own[::2], own[1::2]):
            assert 0 < exit_.attributes["dwell"] <= 40
            assert exit_.attributes["dwell"] == pytest.approx(exit_.start_time - entry.start_time)
    # The queue app sees the same people: one report every 5 s, served = those who left.
    reports = [e for e in events if e.type == "queue"]
    assert len(reports) == 8
    served = [e for e in events if e.type == "served"]
    left = [e for e in events if e.type == "exited" and e.attributes["reason"] == "left"]
    assert sorted(e.track_id for e in served) == sorted(e.track_id for e in left)
    assert max(r.attributes["count"] for r in reports) >= 1
