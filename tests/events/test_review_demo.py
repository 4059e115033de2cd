"""The review target on the demo: the demo's scene and apps (`vigil demo`'s site file) over the
real clip with the real model, its events stored as the service stores them; then those
events as the 20-minute looping demo makes them (the clip's 80 s fifteen times over). The
review items are at most a fifth of the raw events, and no alert is lost: every alert event
is in an alert item."""

from __future__ import annotations

import dataclasses
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from vigil.config.schema import VigilConfig
from vigil.db.database import Database
from vigil.events import Event, EventStore, new_event_id
from vigil.events.review import event_severity
from vigil.events.review_store import ReviewFilters, ReviewStore
from vigil.pipeline.job import run_job

pytestmark = pytest.mark.integration


def test_the_demo_gives_a_fifth_as_many_review_items_as_events_and_loses_no_alert(
    tmp_path: Path, shared_model: Path, shared_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODELS", str(shared_model.parent))
    demo = yaml.safe_load(files("vigil.service").joinpath("demo_site.yaml").read_text())
    camera = demo["cameras"][0]
    config = VigilConfig.model_validate(
        {
            "source": {"url": str(shared_clip), "id": camera["id"]},
            "zones": camera["zones"],
            "lines": camera["lines"],
            "apps": camera["apps"],
            "output": {"directory": str(tmp_path), "video": False},
        }
    )
    run_job(config)
    with Database(tmp_path / "events.db") as database:
        events = EventStore(database).query(limit=None)
    check(tmp_path / "one-pass.db", events, "one pass of the clip")
    loop = max(e.end_time or e.start_time for e in events) + 1.0
    looped = [
        dataclasses.replace(e, id=new_event_id(), start_time=e.start_time + k * loop,
                            end_time=None if e.end_time is None else e.end_time + k * loop)
        for k in range(round(20 * 60 / loop))
        for e in events
    ]  # fmt: skip
    check(tmp_path / "twenty-minutes.db", looped, "the 20-minute looping demo")


def check(path: Path, events: list[Event], what: str) -> None:
    """Store `events` as the service does (in batches); the review target holds."""
    with Database(path) as database:
        store = EventStore(database)
        for i in range(0, len(events), 32):
            store.add(events[i : i + 32])
        items = [f.item for f in ReviewStore(database).page(ReviewFilters(), "me", 500).items]
    kinds = sorted({e.type for e in events})
    print(
        f"\n{what}: {len(events)} events ({', '.join(kinds)}) -> {len(items)} review items "
        f"({len(items) / len(events):.3f} of the events; "
        f"{sum(i.severity == 'alert' for i in items)} alert items)"
    )
    assert {"line_crossing", "occupancy", "intrusion"} <= set(kinds)
    assert 0 < len(items) * 5 <= len(events)
    alert_items = {e for i in items if i.severity == "alert" for e in i.event_ids}
    alerts = [e for e in events if event_severity(e, store.review) == "alert"]
    assert alerts and all(e.id in alert_items for e in alerts)
    # every event but the periodic reports is in exactly one item
    in_items = [e for i in items for e in i.event_ids]
    assert sorted(in_items) == sorted(e.id for e in events if e.type != "occupancy")
