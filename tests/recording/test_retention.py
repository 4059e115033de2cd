"""Retention: days per mode, the disk budget oldest first, footage of events protected."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vigil.db.database import Database
from vigil.events import Event, EventStore
from vigil.forensics.store import TrackQuery, TrackStore
from vigil.forensics.summary import TrackSummary
from vigil.recording.index import Segment, SegmentIndex
from vigil.recording.retention import (
    DAY,
    CameraRetention,
    EventCover,
    RetentionPolicy,
    run_pass,
    select_expired,
    select_over_budget,
    store_events,
    stored_files,
)
from vigil.recording.segmenter import segment_path
from vigil.recording.segments import SegmentInfo

NOW = 1_700_000_000.0
HOUR = 3600.0


def no_events(since: float) -> list:
    return []


def seg(
    id_: int, start: float, camera: str = "cam1", size: int = 100, motion=False, objects=False
) -> Segment:
    return Segment(id_, camera, f"/r/{id_}.mp4", start, start + 10, size, motion, objects)


@pytest.fixture
def index(database: str):
    """An index on each backend (tests/postgres_server.py's `database`: SQLite, PostgreSQL)."""
    with Database(database) as opened:
        ix = SegmentIndex(opened)
        yield ix


def add(
    index: SegmentIndex, folder: Path, age: float, camera: str = "cam1", size: int = 100, **flags
) -> str:
    """A real 10 s segment file that ended `age` seconds before NOW."""
    start = NOW - age - 10
    path = folder / camera / f"{start:.0f}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    index.add(SegmentInfo(camera, str(path), start, start + 10, size, **flags))
    return str(path)


# --------------------------------------------------------------------------- pure parts


def test_cutoffs_per_mode() -> None:
    grace = 300
    assert CameraRetention("continuous", retain_days=2, motion_days=5).cutoffs(NOW, grace) == (
        NOW - 2 * DAY,
        NOW - 5 * DAY,
    )
    assert CameraRetention("off", retain_days=2, motion_days=1).cutoffs(NOW, grace) == (
        NOW - 2 * DAY,
        NOW - 2 * DAY,
    )
    assert CameraRetention("motion", motion_days=3).cutoffs(NOW, grace) == (
        NOW - grace,
        NOW - 3 * DAY,
    )
    assert CameraRetention("events").cutoffs(NOW, grace) == (NOW - grace, NOW - grace)
    # Never younger than the grace period, even with 0 days.
    assert CameraRetention("continuous", retain_days=0, motion_days=0).cutoffs(NOW, grace) == (
        NOW - grace,
        NOW - grace,
    )
    with pytest.raises(ValueError, match="mode"):
        CameraRetention("sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retain_days"):
        CameraRetention(retain_days=-1)


def test_event_cover() -> None:
    rules = RetentionPolicy(default=CameraRetention(event_days=1, pre_roll=5, post_roll=5)).rules
    spans = [
        ("cam1", NOW - HOUR, NOW - HOUR + 30),  # [-3605, -3565]
        ("cam1", NOW - 60, None),  # still going: [-65, now + 5]
        ("cam1", NOW - 2 * DAY, NOW - 2 * DAY + 10),  # older than event_days: ignored
        ("cam2", NOW - 100, NOW - 100),  # instant: [-105, -95]
    ]
    cover = EventCover(spans, rules, NOW)

    def at(offset: float, camera: str = "cam1") -> bool:
        return cover.protects(
            Segment(1, camera, "x", NOW + offset, NOW + offset + 10, 1, False, False)
        )

    assert at(-3614) and at(-3570) and not at(-3615) and not at(-3625) and not at(-3560)
    assert at(-70) and at(-20) and not at(-80)
    assert not at(-2 * DAY)
    assert (
        at(-110, "cam2")
        and at(-96, "cam2")
        and not at(-95, "cam2")
        and not at(-116, "cam2")
        and not at(-94, "cam2")
    )
    assert not at(-100, "cam3")


def test_select_expired_and_over_budget_are_pure() -> None:
    rules = RetentionPolicy(default=CameraRetention("motion", motion_days=1)).rules
    cover = EventCover([("cam1", NOW - 2 * DAY, NOW - 2 * DAY)], rules, NOW)
    segments = [
        seg(1, NOW - 2 * DAY, motion=True),  # old motion, but an event references it
        seg(2, NOW - 2 * DAY + 100, motion=True),  # old motion
        seg(3, NOW - HOUR),  # no motion, past the grace
        seg(4, NOW - 100),  # no motion, within the grace
        seg(5, NOW - HOUR, objects=True),  # objects count as activity
    ]
    assert [d.segment.id for d in select_expired(segments, rules, cover, NOW, 300)] == [2, 3]
    plan = select_over_budget(segments, 150, cover, NOW, 300, skip={"/r/2.mp4"})
    assert [(d.segment.id, d.reason) for d in plan] == [(3, "budget"), (5, "budget")]
    # Referenced footage may go up to its allowance, oldest first.
    plan = select_over_budget(segments, 150, cover, NOW, 300, referenced_allowance=1)
    assert [d.segment.id for d in plan] == [1, 2]


# --------------------------------------------------------------------------- apply


def test_continuous_days(index: SegmentIndex, tmp_path: Path) -> None:
    old = add(index, tmp_path, 3 * DAY)
    old_motion = add(index, tmp_path, 3 * DAY + 100, motion=True)
    recent = add(index, tmp_path, 1 * DAY)
    policy = RetentionPolicy(default=CameraRetention("continuous", retain_days=2, motion_days=4))
    assert policy.apply(index, no_events, NOW) == [old]
    assert not Path(old).exists() and Path(old_motion).exists() and Path(recent).exists()
    assert index.count() == 2
    assert sorted(policy.apply(index, no_events, NOW + 1.5 * DAY)) == sorted([old_motion, recent])
    assert policy.apply(index, no_events, NOW + 1.5 * DAY) == []


def test_motion_mode(index: SegmentIndex, tmp_path: Path) -> None:
    quiet_old = add(index, tmp_path, 600)
    quiet_new = add(index, tmp_path, 60)  # within the grace period
    moving = add(index, tmp_path, 2 * DAY, motion=True)
    moving_old = add(index, tmp_path, 4 * DAY, motion=True)
    policy = RetentionPolicy(default=CameraRetention("motion", motion_days=3), grace_seconds=300)
    assert sorted(policy.apply(index, no_events, NOW)) == sorted([quiet_old, moving_old])
    assert Path(quiet_new).exists() and Path(moving).exists()


def test_events_mode_keeps_referenced_footage(index: SegmentIndex, tmp_path: Path) -> None:
    before = add(index, tmp_path, 2 * HOUR + 20)  # [-2h-30, -2h-20] (relative to NOW)
    during = add(index, tmp_path, 2 * HOUR + 10)  # [-2h-20, -2h-10]
    after = add(index, tmp_path, 2 * HOUR)  # [-2h-10, -2h]
    unrelated = add(index, tmp_path, 5 * HOUR)
    event_start = NOW - 2 * HOUR - 25
    events = [("cam1", event_start, event_start + 8)]  # [-2h-30, -2h-12] with the rolls
    policy = RetentionPolicy(default=CameraRetention("events", event_days=1))
    deleted = policy.apply(index, lambda since: events, NOW)
    assert sorted(deleted) == sorted([after, unrelated])
    assert Path(before).exists() and Path(during).exists()
    # Once the event is older than event_days, its footage goes too.
    assert sorted(policy.apply(index, lambda since: events, NOW + DAY)) == sorted([before, during])


def test_events_query_gets_the_longest_event_retention(index: SegmentIndex) -> None:
    asked: list[float] = []
    policy = RetentionPolicy(
        cameras={"a": CameraRetention(event_days=3), "b": CameraRetention(event_days=10)},
        default=CameraRetention(event_days=1),
    )
    policy.plan(index, lambda since: asked.append(since) or [], NOW)
    assert asked == [NOW - 10 * DAY]


def test_budget_oldest_first_across_cameras(index: SegmentIndex, tmp_path: Path) -> None:
    a_old = add(index, tmp_path, 5 * HOUR, "a", size=300)
    b_old = add(index, tmp_path, 4 * HOUR, "b", size=300)
    a_event = add(index, tmp_path, 3 * HOUR, "a", size=300)
    b_mid = add(index, tmp_path, 2 * HOUR, "b", size=300)
    a_new = add(index, tmp_path, 1 * HOUR, "a", size=300)
    b_recent = add(index, tmp_path, 10, "b", size=300)  # younger than the grace period
    events = [("a", NOW - 3 * HOUR - 5, NOW - 3 * HOUR - 5)]
    policy = RetentionPolicy(default=CameraRetention(retain_days=30), budget_bytes=900)
    deleted = policy.apply(index, lambda since: events, NOW)
    assert deleted == [a_old, b_old, b_mid]  # oldest first, skipping the event's footage
    assert index.total_bytes() == 900
    remaining = {s.path for s in index.oldest(limit=None)}
    assert remaining == {a_event, a_new, b_recent}

    # Over budget with only referenced footage within events' share of the budget (all of
    # it here) and fresh footage left: nothing more goes.
    tight = RetentionPolicy(
        default=CameraRetention(retain_days=30), budget_bytes=300, event_share=1.0
    )
    assert tight.apply(index, lambda since: events, NOW) == [a_new]
    assert {s.path for s in index.oldest(limit=None)} == {a_event, b_recent}


def test_budget_counts_what_age_already_frees(index: SegmentIndex, tmp_path: Path) -> None:
    expired = add(index, tmp_path, 3 * DAY, size=500)
    keep = add(index, tmp_path, HOUR, size=500)
    policy = RetentionPolicy(default=CameraRetention(retain_days=1), budget_bytes=600)
    assert policy.apply(index, no_events, NOW) == [expired]
    assert Path(keep).exists()


def test_missing_files_and_plan_changes_nothing(index: SegmentIndex, tmp_path: Path) -> None:
    gone = add(index, tmp_path, 3 * DAY)
    Path(gone).unlink()
    policy = RetentionPolicy(default=CameraRetention(retain_days=1))
    assert [d.segment.path for d in policy.plan(index, no_events, NOW)] == [gone]
    assert index.count() == 1
    assert policy.apply(index, no_events, NOW) == [gone]
    assert index.count() == 0


def test_cameras_without_rules_use_the_default(index: SegmentIndex, tmp_path: Path) -> None:
    a = add(index, tmp_path, 2 * DAY, "a")
    b = add(index, tmp_path, 2 * DAY, "b")
    policy = RetentionPolicy(
        cameras={"a": CameraRetention(retain_days=3)}, default=CameraRetention(retain_days=1)
    )
    assert policy.apply(index, no_events, NOW) == [b]
    assert Path(a).exists()


def test_store_events_adapter(database: str) -> None:
    with Database(database) as opened:
        store = EventStore(opened)
        store.add(
            [
                Event("cam1", "loiter", "loitering", NOW - 100, 1, state="start"),
                Event("cam1", "count", "line_crossing", NOW - 50, 2, end_time=NOW - 50),
                Event("cam1", "count", "line_crossing", NOW - 5 * DAY, 3, end_time=NOW - 5 * DAY),
            ]
        )
        query = store_events(store)
        assert sorted(query(NOW - DAY)) == [("cam1", NOW - 100, None), ("cam1", NOW - 50, NOW - 50)]


# --------------------------------------------------------------------------- the disk fills


def test_budget_wins_over_events_beyond_their_share(index: SegmentIndex, tmp_path: Path) -> None:
    """An app firing every few seconds references every segment: the budget still frees the
    oldest of that footage, keeping at most `event_share` of the budget referenced."""
    paths = [add(index, tmp_path, (12 - i) * 600, size=100) for i in range(12)]  # 1200 bytes
    events = [("cam1", NOW - 7300 + 10 * k, NOW - 7300 + 10 * k) for k in range(740)]
    policy = RetentionPolicy(
        default=CameraRetention(retain_days=30), budget_bytes=600, event_share=0.5
    )
    deleted = policy.apply(index, lambda since: events, NOW)
    assert deleted == paths[:6]  # oldest first, down to the budget
    assert index.total_bytes() == 600
    # Within the budget now: nothing more goes.
    assert policy.apply(index, lambda since: events, NOW) == []


def test_snapshots_and_clips_count_and_age(index: SegmentIndex, tmp_path: Path) -> None:
    snapshots, clips = tmp_path / "snapshots", tmp_path / "exports" / "clips"
    (snapshots / "cam1").mkdir(parents=True)
    clips.mkdir(parents=True)

    def file(path: Path, age: float, size: int) -> str:
        path.write_bytes(b"\0" * size)
        os.utime(path, (NOW - age, NOW - age))
        return str(path)

    old_snapshot = file(snapshots / "cam1" / "a.jpg", 100 * DAY, 10)
    snapshot = file(snapshots / "cam1" / "b.jpg", 5 * HOUR, 400)
    new_snapshot = file(snapshots / "cam1" / "c.jpg", HOUR, 10)
    old_clip = file(clips / "x.mp4", 2 * DAY, 10)
    clip = file(clips / "y.mp4", 2 * HOUR, 300)
    segment = add(index, tmp_path / "recordings", 3 * HOUR, size=400)
    newest = add(index, tmp_path / "recordings", 10, size=100)
    policy = RetentionPolicy(
        default=CameraRetention(retain_days=30), budget_bytes=600, events_days=90, clip_days=1
    )
    files = stored_files(snapshots, clips)
    assert len(files) == 5
    deleted = policy.apply(index, no_events, NOW, files=files)
    # By age: the snapshot past events_days, the clip past clip_days; by budget (1220 of
    # 600 bytes left): the cached clip first, then the oldest of snapshots and segments.
    assert deleted == [old_clip, old_snapshot, clip, snapshot]
    assert {str(f.path) for f in stored_files(snapshots, clips)} == {new_snapshot}
    assert Path(segment).exists() and Path(newest).exists()


def test_free_space_floor_deletes_whatever_references_it(
    index: SegmentIndex, tmp_path: Path
) -> None:
    old = add(index, tmp_path, 600, size=300)
    mid = add(index, tmp_path, 300, size=300)
    fresh = add(index, tmp_path, 5, size=300)  # within the grace period, referenced
    events = [("cam1", NOW - 700, None)]  # still going: references everything
    policy = RetentionPolicy(default=CameraRetention(retain_days=30), min_free_bytes=500)
    assert policy.apply(index, lambda since: events, NOW, free_bytes=5000) == []
    # 500 bytes short of twice the floor: the oldest files go, the newest footage stays.
    assert policy.apply(index, lambda since: events, NOW, free_bytes=500) == [old, mid]
    assert Path(fresh).exists()


def test_run_pass_deletes_old_events_in_batches(database: str, tmp_path: Path) -> None:
    with Database(database) as opened:
        store, index = EventStore(opened), SegmentIndex(opened)
        store.add(
            [Event("cam1", "a", "occupancy", NOW - 100 * DAY + k, k) for k in range(25)]
            + [Event("cam1", "a", "occupancy", NOW - DAY, 99)]
        )
        assert store.delete_before(NOW - 100 * DAY + 5, batch=2) == 5
        policy = RetentionPolicy(events_days=90)
        report = run_pass(policy, index, store, tmp_path, NOW)
        assert report.deleted_events == 20 and not report.pressure
        assert [e.start_time for e in store.query(limit=None)] == [NOW - DAY]


def test_run_pass_keeps_track_summaries_as_long_as_recordings(
    database: str, tmp_path: Path
) -> None:
    def walk(camera: str, days_ago: float) -> TrackSummary:
        path = np.array([(0, 0.2, 0.5), (5, 0.8, 0.5)], dtype=np.float32)
        t = NOW - days_ago * DAY
        return TrackSummary(camera, 1, "person", t, t + 5, path)

    with Database(database) as opened:
        tracks = TrackStore(opened)
        tracks.add([walk("cam1", 10), walk("cam1", 2), walk("cam2", 10)])
        policy = RetentionPolicy(
            cameras={"cam1": CameraRetention(retain_days=7, motion_days=7, event_days=7)}
        )
        run_pass(policy, SegmentIndex(opened), EventStore(opened), tmp_path, NOW, tracks=tracks)
        kept = tracks.search(TrackQuery(start=NOW - 30 * DAY, end=NOW))
        # cam1 keeps 7 days of recordings; cam2 has no rule of its own here
        assert sorted((h.source, round((NOW - h.first_time) / DAY)) for h in kept) == [
            ("cam1", 2),
            ("cam2", 10),
        ]


# --------------------------------------------------------------------------- privacy maximums


def test_camera_maximums_from_the_privacy_policy(database: str, tmp_path: Path) -> None:
    """A camera's ``privacy.retention`` maximums, as the service builds them from the site,
    win over what would keep its data longer: event references, the record settings and the
    site's events_days; boxes go before their segment; other cameras keep theirs."""
    from vigil.config.site import SiteConfig
    from vigil.service.supervisor import retention_policy

    site = SiteConfig.model_validate(
        {
            "cameras": [
                {
                    "id": "door",
                    "url": "rtsp://x/door",
                    "record": {"retain_days": 30, "event_retain_days": 30},
                    "privacy": {
                        "purpose": "Entrance safety",
                        "retention": {
                            "recordings_days": 3,
                            "snapshots_days": 1,
                            "boxes_days": 2,
                            "events_days": 5,
                        },
                    },
                },
                {"id": "yard", "url": "rtsp://x/yard", "record": {"retain_days": 30}},
            ],
            "storage": {"directory": str(tmp_path), "events_retain_days": 90},
        }
    )
    policy = retention_policy(site)
    recordings, snapshots = tmp_path / "recordings", tmp_path / "snapshots"

    def recorded(camera: str, age: float, **flags: bool) -> tuple[str, Path]:
        """A segment where the segmenter puts it, and the boxes stored beside it when it
        ended."""
        start = NOW - age - 10
        path = segment_path(recordings, camera, start)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * 100)
        index.add(SegmentInfo(camera, str(path), start, start + 10, 100, **flags))
        boxes = path.with_suffix(".boxes")
        boxes.write_bytes(b"\1" * 10)
        os.utime(boxes, (start + 10, start + 10))
        return str(path), boxes

    def snapshot(camera: str, name: str, age: float) -> Path:
        """A snapshot, its object crop and the boxes written beside it (for masking them
        when served)."""
        path = snapshots / camera / f"{name}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\xff\xd8")
        path.with_suffix(".crop.jpg").write_bytes(b"\xff\xd8")
        path.with_suffix(".boxes.json").write_text("[]")
        for written in (path, path.with_suffix(".crop.jpg"), path.with_suffix(".boxes.json")):
            os.utime(written, (NOW - age, NOW - age))
        return path

    with Database(database) as opened:
        store, index = EventStore(opened), SegmentIndex(opened)
        door_old, old_boxes = recorded("door", 4 * DAY, objects=True)
        door_mid, mid_boxes = recorded("door", 2.5 * DAY, objects=True)
        door_new, new_boxes = recorded("door", DAY, objects=True)
        yard_old, yard_boxes = recorded("yard", 4 * DAY)
        # Events referencing the oldest footage of both cameras (within event_retain_days).
        store.add(
            [
                Event(cam, "a", "line_crossing", NOW - 4 * DAY - 5, k)
                for k, cam in enumerate(["door", "yard"])
            ]
            + [Event(cam, "a", "line_crossing", NOW - 6 * DAY, 9) for cam in ["door", "yard"]]
            + [Event("door", "a", "line_crossing", NOW - DAY, 10)]
        )
        door_snaps = [snapshot("door", n, age) for n, age in (("a", 2 * DAY), ("b", HOUR))]
        yard_snap = snapshot("yard", "a", 2 * DAY)

        report = run_pass(policy, index, store, tmp_path, NOW)

        # Recordings: past 3 days go though an event references them; the yard's stay.
        assert not Path(door_old).exists() and not old_boxes.exists()
        assert Path(door_mid).exists() and Path(door_new).exists() and Path(yard_old).exists()
        assert [s.path for s in index.oldest("door")] == [door_mid, door_new]
        # Boxes: past 2 days go, their segment stays; the yard (no maximum) keeps its own.
        assert not mid_boxes.exists() and new_boxes.exists() and yard_boxes.exists()
        # Snapshots, with their boxes: past 1 day go on the door; the yard keeps the site's
        # 90 days.
        assert [p.exists() for p in door_snaps] == [False, True] and yard_snap.exists()
        for beside in (".boxes.json", ".crop.jpg"):
            kept = [p.with_suffix(beside).exists() for p in (*door_snaps, yard_snap)]
            assert kept == [False, True, True], beside
        # Events: the door's past 5 days go, the yard's stay (site: 90 days).
        assert report.deleted_events == 1
        remaining = sorted((e.source, e.start_time) for e in store.query(limit=None))
        assert remaining == [
            ("door", NOW - 4 * DAY - 5),
            ("door", NOW - DAY),
            ("yard", NOW - 6 * DAY),
            ("yard", NOW - 4 * DAY - 5),
        ]
        # A second pass has nothing more to do.
        assert run_pass(policy, index, store, tmp_path, NOW).deleted_files == 0


def test_events_protect_footage_no_longer_than_the_maximums() -> None:
    rule = CameraRetention(event_days=30, max_days=3, events_days=5)
    assert rule.protect_days == 3
    assert CameraRetention(event_days=30, events_days=5).protect_days == 5
    assert CameraRetention(event_days=30).protect_days == 30
    assert CameraRetention(snapshots_days=1).snapshot_cutoff(NOW, 90) == NOW - DAY
    assert CameraRetention(events_days=2).snapshot_cutoff(NOW, None) == NOW - 2 * DAY
    assert CameraRetention().snapshot_cutoff(NOW, None) is None
    with pytest.raises(ValueError, match="boxes_days must be >= 0"):
        CameraRetention(boxes_days=-1)
