"""Subject-access export (DSAR): one track visible, everyone else masked, a record of what
was exported and why, audited; on the real clip with the real engine's tracks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from playback_helpers import FPS, RealSegment, decoded, person_boxes, sharpness

from accounts import bearer, user_token
from api.site import T0, Site, event, wait_for_job
from vigil.privacy.boxes import boxes_path

pytestmark = pytest.mark.integration
URL = "/api/cameras/cam1/subject-access"


def subject_of(track) -> int:
    """The person seen on most analysed frames."""
    ids, counts = np.unique(track.track_ids, return_counts=True)
    return int(ids[np.argmax(counts)])


def overlaps(a: np.ndarray, b: np.ndarray, margin: float = 0.15) -> bool:
    pad = margin * np.array([-(b[2] - b[0]), -(b[3] - b[1]), b[2] - b[0], b[3] - b[1]])
    c = b + pad
    return bool(a[0] < c[2] and c[0] < a[2] and a[1] < c[3] and c[1] < a[3])


def test_the_subject_alone_is_visible(site: Site, real_segment: RealSegment, recorded: int) -> None:
    subject = subject_of(real_segment.track)
    r = site.client.post(
        URL, json={"start": T0, "end": T0 + 3, "track_id": subject, "reason": "request 2026-17"}
    )
    assert r.status_code == 202, r.text
    job = wait_for_job(site, r.json()["id"], "done")
    data = site.client.get(job["file_url"]).content
    out = site.tmp / "dsar.mp4"
    out.write_bytes(data)
    exported, original = decoded(out), decoded(real_segment.path)
    assert len(exported) == len(original)

    seen_subject = others = 0
    for n in range(0, len(original), 3):
        boxes, ids = person_boxes(real_segment.track, n / FPS)
        ratios = [sharpness(exported[n], b) / max(sharpness(original[n], b), 1e-6) for b in boxes]
        visible = [int(i) for i, ratio in zip(ids, ratios) if ratio > 0.3]
        if subject in ids.tolist():
            mine = boxes[ids == subject][0]
            if not any(overlaps(mine, b) for b, i in zip(boxes, ids) if i != subject):
                assert visible == [subject], (n, visible)  # exactly one track visible
                assert ratios[ids.tolist().index(subject)] >= 0.7  # about as sharp as recorded
                seen_subject += 1
        others += sum(i != subject for i in ids.tolist())
        assert set(visible) <= {subject}, (n, visible)
    assert seen_subject >= 3 and others >= 10

    record = site.client.get(f"/api/recordings/exports/{job['id']}/record.json").json()
    assert record["track_id"] == subject and record["reason"] == "request 2026-17"
    assert record["requested_by"] == "admin" and record["camera"] == "cam1"
    assert record["range"] == {
        "start": "2023-11-14T22:13:20.000Z",
        "end": "2023-11-14T22:13:23.000Z",
    }
    [file] = record["files"]
    assert file["sha256"] == hashlib.sha256(data).hexdigest() and file["bytes"] == len(data)
    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    _, asked = auth.audit_log(action="subject_access")
    _, made = auth.audit_log(action="subject_access.done")
    assert asked[0].detail["reason"] == "request 2026-17" and asked[0].detail["track_id"] == subject
    assert made[0].detail["files"][0]["sha256"] == file["sha256"]


def test_by_event_and_what_is_refused(site: Site, real_segment: RealSegment, recorded: int) -> None:
    subject = subject_of(real_segment.track)
    ev = event(T0 + 1.0, "cam1", track_id=subject)
    site.store.add([ev])
    r = site.client.post(URL, json={"event_id": ev.id, "reason": "request 2026-18"})
    assert r.status_code == 202, r.text
    job = wait_for_job(site, r.json()["id"], "done")
    assert (
        site.client.get(f"/api/recordings/exports/{job['id']}/record.json").json()["event_id"]
        == ev.id
    )

    absent = site.client.post(
        URL, json={"start": T0, "end": T0 + 3, "track_id": 99999, "reason": "request 2026-19"}
    )
    failed = wait_for_job(site, absent.json()["id"], "failed")
    assert "track 99999" in failed["error"]
    for body in (
        {"start": T0, "end": T0 + 3, "track_id": subject},  # no reason
        {"start": T0, "end": T0 + 3, "reason": "why not"},  # no track
        {"track_id": subject, "reason": "why not"},  # no range
    ):
        assert site.client.post(URL, json=body).status_code == 422, body
    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    operator = bearer(user_token(auth, "op", "operator"))
    body = {"start": T0, "end": T0 + 3, "track_id": subject, "reason": "curious"}
    assert site.client.post(URL, json=body, headers=operator).status_code == 403


def test_the_stored_boxes_of_a_segment_for_picking_the_person(
    site: Site, real_segment: RealSegment, recorded: int
) -> None:
    r = site.client.get(f"/api/recordings/segments/{recorded}/boxes.json")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["segment"] == recorded and body["start_time"] == T0
    assert [f["t"] for f in body["frames"]] == pytest.approx(real_segment.track.times.tolist())
    picked = {o["track_id"] for f in body["frames"] for o in f["objects"]}
    assert subject_of(real_segment.track) in picked
    assert all(
        o["class_name"] == "person" and len(o["box"]) == 4 for o in body["frames"][0]["objects"]
    )
    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    operator = bearer(user_token(auth, "op", "operator"))
    url = f"/api/recordings/segments/{recorded}/boxes.json"
    assert site.client.get(url, headers=operator).status_code == 403
    boxes_path(Path(site.state.index.get(recorded).path)).unlink()
    assert site.client.get(url).status_code == 404
    assert site.client.get("/api/recordings/segments/999/boxes.json").status_code == 404
