"""Multi-object tracker of the ByteTrack / OC-SORT family, causal and vectorised.

Per frame:
1. every track's Kalman state is predicted (batched);
2. high-score detections are matched to active and lost tracks by IoU fused with score;
3. low-score detections rescue the active tracks left over (ByteTrack's second pass);
4. tentative tracks are matched to what remains, new tracks start from confident leftovers;
5. a lost track that is found again is re-filtered along a straight path over its gap
   (OC-SORT's observation-centric re-update), so a long occlusion does not leave it with a
   wild velocity.

Motion gating means the detector may look at only part of a frame, or at none of it. The
caller says which regions were examined; tracks outside them are neither matched nor counted
as missed — they coast on their motion model. A track whose predicted centre has left the
picture would show at its edge, so it counts as looked for wherever the edge nearest to it
was examined; not found there, it has left the scene and is forgotten at once (it is no
occlusion to wait out, and someone else entering there later is someone else).

A coasting track keeps its size (as ByteTrack does): only a measurement changes it, so a guess
never shrinks through zero. Coasting is bounded: a lost track is forgotten after the buffer,
one that left the picture as soon as the edge it left by is examined. The boxes reported are
finite, inside the frame and never inverted.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.detection.detections import Detections
from vigil.tracking import appearance
from vigil.tracking.kalman import BoxKalman, cxcywh_to_xyxy, xyxy_to_cxcywh
from vigil.tracking.matching import assign, box_iou

TENTATIVE, ACTIVE, LOST = 0, 1, 2
MIN_SIZE = 1.0  # pixels: a predicted box never shrinks below this


class TrackerSettings(BaseModel):
    """Tracker parameters; also the `tracker:` section of the YAML configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_threshold: float = Field(0.5, gt=0, lt=1)
    """Detections at least this confident take part in the first association."""
    low_threshold: float = Field(0.1, gt=0, lt=1)
    """Weaker detections below this are ignored; between the two they only rescue tracks."""
    new_track_threshold: float = Field(0.7, gt=0, le=1)
    """A detection nobody claimed starts a track only if at least this confident."""
    match_iou: float = Field(0.1, gt=0, lt=1)
    """Smallest score-weighted overlap for a first-pass match."""
    low_match_iou: float = Field(0.5, gt=0, lt=1)
    tentative_match_iou: float = Field(0.3, gt=0, lt=1)
    min_hits: int = Field(2, ge=1)
    """Matches before a new track is reported."""
    lost_buffer_seconds: float = Field(3.0, ge=0)
    """How long a lost track may be found again before it is forgotten."""
    coast_frames: int = Field(0, ge=0)
    """Frames a lost track is still reported at its predicted place."""
    appearance_weight: float = Field(1.0, ge=0)
    """Weight of the colour-histogram distance in association cost; 0 turns it off."""
    appearance_momentum: float = Field(0.9, ge=0, lt=1)
    reidentify_distance: float = Field(0.25, ge=0, le=1)
    """Largest appearance distance at which a lost track takes back a detection far from its
    predicted box; 0 turns this off."""
    reidentify_reach: float = Field(0.1, ge=0)
    """How far a lost track may have gone, in box heights per frame missed (plus one)."""

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> TrackerSettings:
        if self.low_threshold > self.high_threshold:
            raise ValueError(
                f"low_threshold must be <= high_threshold ({self.high_threshold}), "
                f"got {self.low_threshold}"
            )
        return self


class ByteTracker:
    """Assigns persistent ids to detections; one instance per video source."""

    def __init__(self, settings: TrackerSettings | None = None, *, frame_size: tuple[int, int]):
        """`frame_size` (width, height) of the source's pictures: tracks live inside it."""
        self.settings = settings or TrackerSettings()
        self.frame_size = np.array(frame_size, np.float64)
        self.kalman = BoxKalman()
        self._next_id = 1
        self._frames_seen = 0
        # The last frame's usable detections that no track took (`unconfirmed`).
        self._unclaimed = Detections.empty()
        n = 0
        self.ids = np.empty(n, np.int64)
        self.class_id = np.empty(n, np.int64)
        self.score = np.empty(n, np.float32)
        self.state = np.empty(n, np.int8)
        self.hits = np.empty(n, np.int64)
        self.missed = np.empty(n, np.int64)  # frames since the last match
        self.misses = np.empty(n, np.int64)  # examinations in a row that found nothing
        self.last_seen = np.empty(n, np.float64)  # pts of the last match
        self.mean = np.empty((n, 8))
        self.cov = np.empty((n, 8, 8))
        # State right after the last observation, for the re-update over a gap.
        self.obs_mean = np.empty((n, 8))
        self.obs_cov = np.empty((n, 8, 8))
        self.obs_box = np.empty((n, 4))
        self.feature = np.empty((n, appearance.DESCRIPTOR_SIZE), np.float32)
        self.has_feature = np.empty(n, dtype=bool)

    def __len__(self) -> int:
        return len(self.ids)

    def update(
        self,
        detections: Detections | None,
        pts: float,
        regions: np.ndarray | None = None,
        image: np.ndarray | None = None,
    ) -> Detections:
        """Advance one frame and return the tracked objects in it.

        `detections` is None when the detector did not run on this frame. `regions` (R, 4) xyxy
        are the parts of the frame the detector examined; None means the whole frame. With
        the frame's `image`, appearance helps tell apart objects whose boxes overlap.
        """
        s = self.settings
        self._frames_seen += 1
        self._unclaimed = Detections.empty()
        self._predict()
        if detections is not None:
            xyxy = detections.xyxy
            valid = (
                np.isfinite(xyxy).all(axis=1)
                & (xyxy[:, 2] > xyxy[:, 0])
                & (xyxy[:, 3] > xyxy[:, 1])
            )
            usable = valid & (detections.confidence >= s.low_threshold)
            weak = detections[valid & ~usable]
            detections = detections[usable]
            features = (
                self._describe(image, detections)
                if image is not None and s.appearance_weight > 0
                else None
            )
            self._associate(detections, features, pts, regions)
            self._unclaimed = Detections.merge([self._unclaimed, weak])
        self._drop_expired(pts)
        # Tracks not examined this frame stay ACTIVE and are shown at their predicted place.
        shown = (self.state == ACTIVE) | ((self.state == LOST) & (self.misses <= s.coast_frames))
        visible = shown & ~self._off_frame()
        return Detections(
            xyxy=np.clip(cxcywh_to_xyxy(self.mean[visible, :4]), 0.0, np.tile(self.frame_size, 2)),
            confidence=np.where(self.missed[visible] == 0, self.score[visible], 0.0),
            class_id=self.class_id[visible],
            tracker_id=self.ids[visible],
        )

    def forecast(self, steps: int = 1) -> tuple[Detections, np.ndarray]:
        """Where confirmed tracks will be `steps` frames ahead, and their speeds in px/frame."""
        live = self.state != TENTATIVE
        mean = self.mean[live]
        return (
            Detections(
                xyxy=cxcywh_to_xyxy(mean[:, :4] + steps * mean[:, 4:]),
                confidence=self.score[live],
                class_id=self.class_id[live],
                tracker_id=self.ids[live],
            ),
            np.hypot(mean[:, 4], mean[:, 5]),
        )

    def unconfirmed(self) -> Detections:
        """What `update` does not report yet, for masking people from their first frame:
        the tentative tracks at their current box (with their ids), and the last frame's
        detections that no track took, those below the low threshold included (tracker
        id -1): whatever the detector found is masked."""
        tentative = self.state == TENTATIVE
        unclaimed = self._unclaimed
        return Detections(
            xyxy=np.concatenate([cxcywh_to_xyxy(self.mean[tentative, :4]), unclaimed.xyxy]).astype(
                np.float32
            ),
            confidence=np.concatenate([self.score[tentative], unclaimed.confidence]),
            class_id=np.concatenate([self.class_id[tentative], unclaimed.class_id]),
            tracker_id=np.concatenate([self.ids[tentative], np.full(len(unclaimed), -1, np.int64)]),
        )

    # -- motion ----------------------------------------------------------------------------

    def _predict(self) -> None:
        """Advance every track one frame; those unmatched on the last frame keep their size."""
        self.mean[self.missed > 0, 6:] = 0.0
        self.mean, self.cov = self.kalman.predict(self.mean, self.cov)
        np.maximum(self.mean[:, 2:4], MIN_SIZE, out=self.mean[:, 2:4])
        self.missed += 1

    def _off_frame(self) -> np.ndarray:
        """Tracks whose predicted centre lies outside the picture."""
        centres = self.mean[:, :2]
        return np.asarray(((centres < 0) | (centres > self.frame_size)).any(axis=1))

    # -- association -----------------------------------------------------------------------

    def _observable(self, regions: np.ndarray | None) -> np.ndarray:
        """Tracks the detector looked for: their centre, or the nearest point of the picture
        to it, lies in an examined region."""
        if regions is None or len(self) == 0:
            return np.ones(len(self), dtype=bool)
        centers = np.clip(self.mean[:, :2], 0, self.frame_size)
        inside = (
            (centers[:, None, 0] >= regions[None, :, 0])
            & (centers[:, None, 0] <= regions[None, :, 2])
            & (centers[:, None, 1] >= regions[None, :, 1])
            & (centers[:, None, 1] <= regions[None, :, 3])
        )
        return np.asarray(inside.any(axis=1))

    def _cost(
        self,
        tracks: np.ndarray,
        dets: Detections,
        features: np.ndarray | None,
        fuse_score: bool,
    ) -> np.ndarray:
        iou = box_iou(cxcywh_to_xyxy(self.mean[tracks, :4]), dets.xyxy)
        similarity = iou * dets.confidence[None, :] if fuse_score else iou
        # Never swap an object's class.
        similarity[self.class_id[tracks][:, None] != dets.class_id[None, :]] = 0.0
        cost = 1.0 - similarity
        if features is not None and len(tracks) and len(dets):
            # Looking different costs as much as not overlapping: among neighbours whose boxes
            # overlap alike, the one that also looks alike wins.
            look = appearance.distance(self.feature[tracks], features)
            look[~self.has_feature[tracks]] = 0.0
            look[:, ~appearance.described(features)] = 0.0  # too small to describe
            cost = cost + self.settings.appearance_weight * look
        return cost

    def _associate(
        self,
        dets: Detections,
        features: np.ndarray | None,
        pts: float,
        regions: np.ndarray | None,
    ) -> None:
        s = self.settings
        observable = self._observable(regions)
        high = np.flatnonzero(dets.confidence >= s.high_threshold)
        low = np.flatnonzero(
            (dets.confidence >= s.low_threshold) & (dets.confidence < s.high_threshold)
        )
        claimed = np.zeros(len(dets), dtype=bool)

        # 1. Confident detections vs active and lost tracks.
        pool = np.flatnonzero(observable & (self.state != TENTATIVE))
        feat = None if features is None else features[high]
        m1, left_tracks, left_high = assign(
            self._cost(pool, dets[high], feat, fuse_score=True), 1.0 - s.match_iou
        )
        self._apply(pool[m1[:, 0]], dets[high[m1[:, 1]]], pts)
        claimed[high[m1[:, 1]]] = True
        if features is not None:
            self._learn_appearance(pool[m1[:, 0]], dets, high[m1[:, 1]], features)

        # 2. Low-score detections rescue active tracks still unmatched (occlusion, blur).
        rest = pool[left_tracks]
        rest = rest[self.state[rest] == ACTIVE]
        m2, _, _ = assign(
            self._cost(rest, dets[low], None, fuse_score=False), 1.0 - s.low_match_iou
        )
        self._apply(rest[m2[:, 0]], dets[low[m2[:, 1]]], pts)
        claimed[low[m2[:, 1]]] = True
        matched = np.zeros(len(self), dtype=bool)
        matched[pool[m1[:, 0]]] = True
        matched[rest[m2[:, 0]]] = True
        unmatched = observable & ~matched & (self.state != TENTATIVE)
        self.misses[unmatched] += 1
        self.state[unmatched] = LOST
        left_scene = unmatched & self._off_frame()

        # 3. Tentative tracks vs confident leftovers; unmatched tentative tracks die.
        high = high[left_high]
        tentative = np.flatnonzero(observable & (self.state == TENTATIVE))
        m3, dead, left_high = assign(
            self._cost(tentative, dets[high], None, fuse_score=True), 1.0 - s.tentative_match_iou
        )
        self._apply(tentative[m3[:, 0]], dets[high[m3[:, 1]]], pts)
        claimed[high[m3[:, 1]]] = True
        if features is not None:
            self._learn_appearance(tentative[m3[:, 0]], dets, high[m3[:, 1]], features)
        high = high[left_high]

        # 4. Lost tracks that look like a confident leftover, within reach of where they
        # were heading, take it back: occlusions end away from the predicted box.
        if features is not None and s.reidentify_distance > 0:
            lost = np.flatnonzero(unmatched & ~left_scene & self.has_feature)
            m4, _, left_high = assign(self._reidentify_cost(lost, dets[high], features[high]), 1.0)
            self._apply(lost[m4[:, 0]], dets[high[m4[:, 1]]], pts)
            claimed[high[m4[:, 1]]] = True
            high = high[left_high]

        # 5. New tracks from confident detections nobody claimed.
        high = high[dets.confidence[high] >= s.new_track_threshold]
        keep = ~left_scene
        keep[tentative[dead]] = False
        self._select(keep)
        first = len(self)
        self._spawn(dets[high], pts)
        claimed[high] = True
        self._unclaimed = dets[~claimed]
        if features is not None:
            self._learn_appearance(np.arange(first, len(self)), dets, high, features)

    def _describe(self, image: np.ndarray, dets: Detections) -> np.ndarray:
        """Appearance descriptors of the confident detections (zeros for the others: only
        confident ones are compared by appearance)."""
        features = np.zeros((len(dets), appearance.DESCRIPTOR_SIZE), np.float32)
        confident = dets.confidence >= self.settings.high_threshold
        features[confident] = appearance.describe(image, dets.xyxy[confident])
        return features

    def _reidentify_cost(
        self, tracks: np.ndarray, dets: Detections, features: np.ndarray
    ) -> np.ndarray:
        """Appearance distance scaled to [0, 1] by its threshold; 2 where a pair is implausible:
        another class, a look too different, or farther than the track could have walked."""
        s = self.settings
        look = appearance.distance(self.feature[tracks], features) / s.reidentify_distance
        centres = self.mean[tracks, :2]
        height = self.mean[tracks, 3]
        reach = height * (1.0 + s.reidentify_reach * self.missed[tracks])
        gap = np.linalg.norm(centres[:, None, :] - dets.centers[None, :, :], axis=2)
        implausible = (
            (look > 1.0)
            | (gap > reach[:, None])
            | (self.class_id[tracks][:, None] != dets.class_id[None, :])
            | ~appearance.described(features)[None, :]
        )
        return np.where(implausible, 2.0, look)

    def _learn_appearance(
        self, tracks: np.ndarray, dets: Detections, rows: np.ndarray, features: np.ndarray
    ) -> None:
        """Blend in the look of matched detections that no other detection overlaps."""
        if len(tracks) == 0:
            return
        overlap = box_iou(dets.xyxy[rows], dets.xyxy)
        overlap[np.arange(len(rows)), rows] = 0.0
        clean = (overlap.max(axis=1, initial=0.0) < 0.3) & appearance.described(features[rows])
        tracks, rows = tracks[clean], rows[clean]
        m = self.settings.appearance_momentum
        blended = np.where(
            self.has_feature[tracks, None],
            m * self.feature[tracks] + (1 - m) * features[rows],
            features[rows],
        )
        norms = np.linalg.norm(blended, axis=1, keepdims=True)
        self.feature[tracks] = blended / np.maximum(norms, 1e-9)
        self.has_feature[tracks] = True

    def _apply(self, tracks: np.ndarray, dets: Detections, pts: float) -> None:
        """Correct matched tracks with their detections."""
        if len(tracks) == 0:
            return
        measurement = xyxy_to_cxcywh(dets.xyxy.astype(np.float64))
        gap = self.missed[tracks]
        for i in np.flatnonzero(gap > 1):
            self._reupdate_over_gap(tracks[i], dets.xyxy[i].astype(np.float64), int(gap[i]))
        mean, cov = self.kalman.update(self.mean[tracks], self.cov[tracks], measurement)
        self.mean[tracks], self.cov[tracks] = mean, cov
        self.obs_mean[tracks], self.obs_cov[tracks] = mean, cov
        self.obs_box[tracks] = dets.xyxy
        self.score[tracks] = dets.confidence
        self.hits[tracks] += 1
        self.missed[tracks] = 0
        self.misses[tracks] = 0
        self.last_seen[tracks] = pts
        promote = (self.state[tracks] == TENTATIVE) & (self.hits[tracks] >= self.settings.min_hits)
        self.state[tracks[promote]] = ACTIVE
        self.state[tracks[self.state[tracks] == LOST]] = ACTIVE

    def _reupdate_over_gap(self, track: int, box: np.ndarray, gap: int) -> None:
        """Replay the gap with virtual observations on a straight path (OC-SORT ORU)."""
        mean, cov = self.obs_mean[track : track + 1], self.obs_cov[track : track + 1]
        start, end = self.obs_box[track], box
        for step in range(1, gap):
            virtual = start + (end - start) * (step / gap)
            mean, cov = self.kalman.predict(mean, cov)
            mean, cov = self.kalman.update(mean, cov, xyxy_to_cxcywh(virtual[None]))
        self.mean[track], self.cov[track] = self.kalman.predict(mean, cov)

    def _spawn(self, dets: Detections, pts: float) -> None:
        n = len(dets)
        if n == 0:
            return
        mean, cov = self.kalman.initiate(xyxy_to_cxcywh(dets.xyxy.astype(np.float64)))
        # The very first frame has no history to confirm against: start tracks active.
        first = self._frames_seen == 1 or self.settings.min_hits <= 1
        self.ids = np.concatenate([self.ids, np.arange(self._next_id, self._next_id + n)])
        self._next_id += n
        self.class_id = np.concatenate([self.class_id, dets.class_id])
        self.score = np.concatenate([self.score, dets.confidence])
        self.state = np.concatenate(
            [self.state, np.full(n, ACTIVE if first else TENTATIVE, np.int8)]
        )
        self.hits = np.concatenate([self.hits, np.ones(n, np.int64)])
        self.missed = np.concatenate([self.missed, np.zeros(n, np.int64)])
        self.misses = np.concatenate([self.misses, np.zeros(n, np.int64)])
        self.last_seen = np.concatenate([self.last_seen, np.full(n, pts)])
        self.mean = np.concatenate([self.mean, mean])
        self.cov = np.concatenate([self.cov, cov])
        self.obs_mean = np.concatenate([self.obs_mean, mean])
        self.obs_cov = np.concatenate([self.obs_cov, cov])
        self.obs_box = np.concatenate([self.obs_box, dets.xyxy.astype(np.float64)])
        self.feature = np.concatenate(
            [self.feature, np.zeros((n, appearance.DESCRIPTOR_SIZE), np.float32)]
        )
        self.has_feature = np.concatenate([self.has_feature, np.zeros(n, dtype=bool)])

    def _drop_expired(self, pts: float) -> None:
        # Only tracks that were looked for and not found expire; unexamined ones coast.
        expired = (self.state == LOST) & (pts - self.last_seen > self.settings.lost_buffer_seconds)
        if expired.any():
            self._select(~expired)

    def _select(self, keep: np.ndarray) -> None:
        for name in (
            "ids",
            "class_id",
            "score",
            "state",
            "hits",
            "missed",
            "misses",
            "last_seen",
            "mean",
            "cov",
            "obs_mean",
            "obs_cov",
            "obs_box",
            "feature",
            "has_feature",
        ):
            setattr(self, name, getattr(self, name)[keep])
