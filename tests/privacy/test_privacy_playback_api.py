"""Recordings served masked by the API: segment playback, exports and event clips of a
camera whose policy masks people for the user's role (the real clip, the real engine's
boxes, the real `vigil.recording`)."""

from __future__ import annotations

import textwrap

import pytest
from playback_helpers import (
    RealSegment,
    assert_people_masked,
    decoded,
)

from api.site import T0, Site, event
from vigil.config.loader import load_config_text
from vigil.config.site import SiteConfig

pytestmark = pytest.mark.integration


def policy(site: Site, roles: str) -> None:
    site.state.site = load_config_text(
        textwrap.dedent(
            f"""\
            cameras:
              - id: cam1
                url: rtsp://10.0.0.5/stream1
                privacy: {{mask: [person], for: [{roles}], mode: pixelate}}
            storage: {{directory: {site.tmp / "data"}}}
            """
        ),
        "site.yaml",
        model=SiteConfig,
    )


def served(site: Site, url: str) -> list:
    r = site.client.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    out = site.tmp / "served.mp4"
    out.write_bytes(r.content)
    return decoded(out)


def test_segment_export_and_clip_are_masked_for_a_masked_role(
    site: Site, real_segment: RealSegment, recorded: int
) -> None:
    policy(site, "operator, admin")  # the test client is an admin
    original = decoded(real_segment.path)
    # The first request gets the masked copy streamed while it is made (fragmented MP4).
    r = site.client.get(f"/api/recordings/segments/{recorded}.mp4")
    assert r.status_code == 200 and "content-length" not in r.headers
    assert r.content[4:8] == b"ftyp" and b"moof" in r.content
    masked = served(site, f"/api/recordings/segments/{recorded}.mp4")  # the copy kept
    assert len(masked) == len(original)
    assert assert_people_masked(masked, original, real_segment.track) >= 20
    # Served again from the masked copy, seekable.
    r = site.client.get(f"/api/recordings/segments/{recorded}.mp4", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100

    export = served(site, f"/api/recordings/export?camera=cam1&start={T0 + 1}&end={T0 + 3}")
    assert len(export) == 20  # frame-accurate: frames 10..29
    assert assert_people_masked(export, original, real_segment.track, first=10) >= 10

    ev = event(T0 + 1.0, "cam1")
    site.store.add([ev])
    site.clock.now = T0 + 3600  # long ended: the clip is cached
    clip = served(site, f"/api/events/{ev.id}/clip.mp4")
    assert len(clip) == len(original)  # T0 + 1 +- 5 s: all the footage there is
    assert assert_people_masked(clip, original, real_segment.track) >= 20
    clips = site.state.exports_dir / "clips"
    assert not (clips / f"{ev.id}.mp4").exists()  # never cached where an unmasked one goes

    auth = site.client.app.state.auth  # type: ignore[attr-defined]
    for action in ("playback.segment", "export", "playback.clip"):
        _, entries = auth.audit_log(action=action)
        assert entries and all(e.detail["masked"] is True for e in entries), action


def test_a_role_the_policy_does_not_mask_gets_the_recording_itself(
    site: Site, real_segment: RealSegment, recorded: int
) -> None:
    policy(site, "viewer")
    r = site.client.get(f"/api/recordings/segments/{recorded}.mp4")
    assert r.status_code == 200 and r.content == real_segment.path.read_bytes()
