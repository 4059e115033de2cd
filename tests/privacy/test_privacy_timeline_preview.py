"""The timeline's hover preview (``GET /api/recordings/frame.jpg``) of a camera whose policy
masks people: masked as playback is, from the same stored boxes (the real clip, the real
engine's boxes), never from a cached unmasked picture, and audited with what was served."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from playback_helpers import FPS, RealSegment, decoded, person_boxes, sharpness
from test_privacy_playback_api import policy

from api.site import T0, Site

pytestmark = pytest.mark.integration


def preview(site: Site, t: float) -> np.ndarray:
    r = site.client.get(
        "/api/recordings/frame.jpg", params={"camera": "cam1", "t": t, "width": 768}
    )
    assert r.status_code == 200, r.text
    return cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)


def sharpness_ratios(picture: np.ndarray, original: np.ndarray, boxes: np.ndarray) -> list[float]:
    return [sharpness(picture, b) / max(sharpness(original, b), 1e-6) for b in boxes]


def test_a_masked_role_gets_a_masked_preview(
    site: Site, real_segment: RealSegment, recorded: int
) -> None:
    original = decoded(real_segment.path)
    n = 15  # the moment 1.5 s into the segment
    boxes, _ = person_boxes(real_segment.track, n / FPS)
    assert len(boxes) >= 2

    policy(site, "viewer")  # the test client is an admin: served as recorded, first
    plain = preview(site, T0 + n / FPS)
    assert min(sharpness_ratios(plain, original[n], boxes)) > 0.6

    policy(site, "operator, admin")
    masked = preview(site, T0 + n / FPS)
    ratios = sharpness_ratios(masked, original[n], boxes)
    assert max(ratios) <= 0.3, ratios  # every person pixelated, not the cached plain picture

    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    _, entries = auth.audit_log(action="playback.frame")
    assert [e.detail["masked"] for e in entries] == [True, False]  # newest first
    assert all(e.detail["segment"] == recorded for e in entries)
