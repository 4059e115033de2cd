"""The review target on the demo: the demo's scene and apps (`vigil demo`'s site file) over the
real clip with the real model, its events stored as the service stores them. The review
items are at most a fifth of the raw events, and no alert is lost: every alert event is in
an alert item."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from vigil.config.schema import VigilConfig
from vigil.db.database import Database
from vigil.events import EventStore
from vigil.events.review import event_severity
from vigil.events.review_store import ReviewFilters, ReviewStore
from vigil.pipeline.job import run_job

pytestmark = pytest.mark.integration


def test_the_demo_gives_a_fifth_as_many_review_items_as_events_and_loses_no_alert(
    tmp_path: Path, shared_model: Path, shared_clip: Path
) -> None:
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
        store = EventStore(database)
        events = store.query(limit=None)
        items = [f.item for f in ReviewStore(database).page(ReviewFilters(), "me", 1000).items]
    kinds = sorted({e.type for e in events})
    print(
        f"\ndemo run: {len(events)} events ({', '.join(kinds)}) -> {len(items)} review items "
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
