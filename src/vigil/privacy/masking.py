"""Masking what a viewer is served: tracked objects blurred, pixelated or filled, and a
camera's static privacy polygons burned in.

`mask_frame` masks a BGR picture in place with the tracker's boxes (so an object the
detector missed on this frame stays masked while its track coasts), `mask_planes` the same
in a decoded 4:2:0 picture's own Y, U and V planes (masked playback: no colour conversion
of the whole picture, either way); `static_mask` rasterises
the static polygons once per picture size; `mask_snapshot` masks a stored event snapshot at
serve time from the boxes the worker wrote beside it (`write_snapshot_boxes`).

Cost: every mode works on each box's own region only (a small resize or fill), so the price
follows the masked area, not the picture: well under a millisecond for 20 boxes in a 720p
frame (``benchmarks/privacy_masking.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from vigil.config.privacy import MaskMode, PrivacySettings
from vigil.geometry.shapes import Zone

UPPER_SHARE = 0.4  # `part: upper`: the top of the box (head and shoulders)
CELLS_ACROSS = 6  # pixelate: cells across a masked region's shorter side (a face: ~1 cell)
BLUR_CELLS_ACROSS = 3  # blur: downscaled this far, then smoothly scaled back
MIN_CELL = 4  # pixels: small regions still lose their detail
SOLID_BGR = (64, 64, 64)
#: `SOLID_BGR` as Y, U, V (as OpenCV converts it: BT.601, video range).
SOLID_YUV = tuple(
    int(v)
    for v in cv2.cvtColor(np.full((2, 2, 3), SOLID_BGR, np.uint8), cv2.COLOR_BGR2YUV_I420)[
        [0, 2, 2], [0, 0, 1]
    ]
)
SNAPSHOT_QUALITY = 85


def mask_regions(
    boxes: np.ndarray,
    settings: PrivacySettings,
    width: int,
    height: int,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """The integer pixel regions (N, 4) x1,y1,x2,y2 (clipped, non-empty) that mask `boxes`:
    their upper part or whole box, padded by the margin; boxes in `keep` are left out."""
    xyxy = np.asarray(boxes, np.float32).reshape(-1, 4)
    if keep is not None:
        xyxy = xyxy[~np.asarray(keep, bool).reshape(len(xyxy))]
    xyxy = xyxy[np.isfinite(xyxy).all(axis=1)]
    x1, y1, x2, y2 = xyxy.T
    if settings.part == "upper":
        y2 = y1 + UPPER_SHARE * (y2 - y1)
    pad_x = settings.margin * (x2 - x1)
    pad_y = settings.margin * (y2 - y1)
    regions = np.stack([x1 - pad_x, y1 - pad_y, x2 + pad_x, y2 + pad_y], axis=1)
    regions = np.clip(np.rint(regions), 0, [width, height, width, height]).astype(np.int32)
    return _merge_overlapping(
        regions[(regions[:, 2] > regions[:, 0]) & (regions[:, 3] > regions[:, 1])]
    )


def _merge_overlapping(regions: np.ndarray) -> np.ndarray:
    """Overlapping regions replaced by their common bounding box, until none overlap: masked
    one after the other, a region's hard edge would cut through its neighbour's mask."""
    while len(regions) > 1:
        x1, y1, x2, y2 = regions.T
        overlap = (
            (x1[:, None] < x2[None, :])
            & (x1[None, :] < x2[:, None])
            & (y1[:, None] < y2[None, :])
            & (y1[None, :] < y2[:, None])
        )
        # Each region takes the smallest label among those it overlaps, until none changes:
        # the labels of the overlap graph's connected parts.
        label = np.arange(len(regions))
        while True:
            lowest = np.where(overlap, label[None, :], len(regions)).min(axis=1)
            if np.array_equal(lowest, label):
                break
            label = lowest
        _, label = np.unique(label, return_inverse=True)
        groups = int(label.max()) + 1
        if groups == len(regions):
            break
        merged = np.empty((groups, 4), np.int32)
        merged[:, :2] = np.iinfo(np.int32).max
        merged[:, 2:] = np.iinfo(np.int32).min
        np.minimum.at(merged[:, :2], label, regions[:, :2])
        np.maximum.at(merged[:, 2:], label, regions[:, 2:])
        regions = merged
    return regions


def mask_frame(
    image: np.ndarray,
    boxes: np.ndarray,
    settings: PrivacySettings,
    static: np.ndarray | None = None,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Mask `image` (BGR uint8, modified in place and returned): `boxes` (N, 4) float
    x1,y1,x2,y2 pixels of the tracked objects whose class is in ``settings.mask`` (all but
    those flagged in `keep`, bool (N,)), and the `static` polygons' mask (`static_mask`)."""
    height, width = image.shape[:2]
    # One small resize or fill per region: the work follows the masked area (a whole-frame
    # filter and a masked copy would cost several ms at 720p).
    for x1, y1, x2, y2 in mask_regions(boxes, settings, width, height, keep).tolist():
        _obscure(image, x1, y1, x2, y2, settings.mode)
    if static is not None:
        _burn_static(image, static, settings.mode)
    return image


def mask_planes(
    planes: Sequence[np.ndarray],
    boxes: np.ndarray,
    settings: PrivacySettings,
    static: np.ndarray | None = None,
    keep: np.ndarray | None = None,
) -> None:
    """Mask a 4:2:0 picture in place, given as its planes: Y (height, width), U and V (half
    each way; even sizes), as `mask_frame` masks a BGR one. Each region is widened to even
    pixels so that it covers whole chroma samples."""
    luma = planes[0]
    height, width = luma.shape
    regions = mask_regions(boxes, settings, width, height, keep)
    regions[:, :2] &= ~1
    regions[:, 2:] = np.minimum((regions[:, 2:] + 1) & ~1, [width, height])
    half = None if static is None else np.ascontiguousarray(static[::2, ::2])
    for plane, scale, fill in zip(planes, (1, 2, 2), SOLID_YUV, strict=True):
        for x1, y1, x2, y2 in (regions // scale).tolist():
            _obscure(plane, x1, y1, x2, y2, settings.mode, (fill,))
        if static is not None and half is not None:
            _burn_static(plane, static if scale == 1 else half, settings.mode, (fill,))


def _obscure(
    image: np.ndarray,
    x1: int,
    y1: int,
    x2: int,
    y2: int,
    mode: MaskMode,
    fill: tuple[int, ...] = SOLID_BGR,
) -> None:
    """Replace the pixels of `image` in the region x1,y1 - x2,y2 (exclusive) with their
    masked form (`fill`: the solid colour in the image's channels)."""
    if mode == "solid":
        cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), fill, thickness=-1)
        return
    region = image[y1:y2, x1:x2]
    w, h = x2 - x1, y2 - y1
    across = CELLS_ACROSS if mode == "pixelate" else BLUR_CELLS_ACROSS
    cell = max(MIN_CELL, min(w, h) / across)
    small = (max(1, round(w / cell)), max(1, round(h / cell)))
    # Bilinear sampling, not an area average: a tenth of the cost, and a cell's colour from a
    # few of its pixels hides a face as well as their mean.
    reduced = cv2.resize(region, small, interpolation=cv2.INTER_LINEAR)
    if mode == "pixelate":
        cv2.resize(reduced, (w, h), dst=region, interpolation=cv2.INTER_NEAREST)
        # Soften the cell edges: hard steps between cells are as sharp as the detail lost.
        cv2.blur(region, (5, 5), dst=region)
    else:
        cv2.resize(reduced, (w, h), dst=region, interpolation=cv2.INTER_LINEAR)


def _burn_static(
    image: np.ndarray, static: np.ndarray, mode: MaskMode, fill: tuple[int, ...] = SOLID_BGR
) -> None:
    """Mask the pixels under the static polygons (only within their bounding box)."""
    x, y, w, h = _bounds(static)
    if w == 0 or h == 0:
        return
    window = image[y : y + h, x : x + w]
    masked = window.copy()
    _obscure(masked, 0, 0, w, h, mode, fill)
    inside = static[y : y + h, x : x + w].astype(bool)
    np.copyto(window, masked, where=inside if image.ndim == 2 else inside[:, :, None])


def _bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect(mask)
    return int(x), int(y), int(w), int(h)


def static_mask(settings: PrivacySettings, width: int, height: int) -> np.ndarray | None:
    """The static polygons as a read-only uint8 (height, width) mask, 255 inside (None:
    the camera has none). Rasterised once per polygons and picture size."""
    if not settings.static:
        return None
    polygons = tuple(tuple(tuple(p) for p in zone.points) for zone in settings.static)
    return _static_mask(polygons, width, height)


@lru_cache(maxsize=64)
def _static_mask(
    polygons: tuple[tuple[tuple[float, float], ...], ...], width: int, height: int
) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    for index, points in enumerate(polygons):
        zone = Zone(f"static {index}", points).to_pixels(width, height)
        mask[zone.mask()] = 255
    mask.setflags(write=False)
    return mask


# -- event snapshots: stored unmasked (the record), masked when served ------------------------


def snapshot_boxes_path(snapshot: Path) -> Path:
    """The boxes written beside a snapshot: ``<event id>.jpg`` -> ``<event id>.boxes.json``."""
    return snapshot.with_suffix(".boxes.json")


CROP_MARGIN = 0.5  # of the object box's larger side, each way: enough to see where it is
MIN_CROP = 96  # pixels a side: a far, small object still gets a picture a person can read


def crop_region(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """The integer region x1, y1, x2, y2 of a `width` x `height` frame that shows the object
    at `box` with a margin (`CROP_MARGIN`, at least `MIN_CROP` a side where the frame
    allows); None when the box is not in the frame."""
    x1, y1, x2, y2 = (float(v) for v in box)
    if not (x2 > x1 and y2 > y1) or x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        return None
    side = max(max(x2 - x1, y2 - y1) * (1 + 2 * CROP_MARGIN), MIN_CROP)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    w, h = min(side, width), min(side, height)
    left = int(round(min(max(cx - w / 2, 0), width - w)))
    top = int(round(min(max(cy - h / 2, 0), height - h)))
    return left, top, min(width, left + int(round(w))), min(height, top + int(round(h)))


def snapshot_crop_path(snapshot: Path) -> Path:
    """The object crop written beside a snapshot: ``<event id>.jpg`` -> ``<event id>.crop.jpg``
    (retention deletes it with the snapshot: every ``*.jpg`` of the folder)."""
    return snapshot.with_suffix(".crop.jpg")


def write_snapshot_boxes(
    snapshot: Path,
    boxes: np.ndarray,
    classes: Sequence[str],
    track_ids: Sequence[int],
    box: Sequence[float] | None,
    crop: Sequence[int] | None = None,
    frame: tuple[int, int] | None = None,
) -> Path:
    """Write the tracked boxes of a snapshot's frame (every class: the policy in force when
    it is served decides what is masked), the event object's own `box`, and where its
    `crop` (x1, y1, x2, y2 pixels) lies in the `frame` (width, height)."""
    path = snapshot_boxes_path(snapshot)
    record = {
        "boxes": np.asarray(boxes, np.float32).reshape(-1, 4).round(1).tolist(),
        "classes": list(classes),
        "track_ids": [int(t) for t in track_ids],
        "box": None if box is None else [round(float(v), 1) for v in box],
        "crop": None if crop is None else [int(v) for v in crop],
        "frame": None if frame is None else [int(v) for v in frame],
    }
    path.write_text(json.dumps(record))
    return path


def mask_snapshot(
    jpeg_path: Path,
    settings: PrivacySettings,
    keep_box: Sequence[float] | None = None,
    objects: bool = True,
) -> bytes:
    """The snapshot at `jpeg_path` as served masked: the tracked objects of the classes in
    ``settings.mask`` (unless `objects` is False: a principal the policy does not mask),
    except the one at `keep_box`, and the static polygons. A snapshot whose boxes file is
    missing or unreadable is masked whole (never served unmasked by mistake)."""
    image = cv2.imread(str(jpeg_path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{jpeg_path}: not a readable JPEG")
    height, width = image.shape[:2]
    if objects and settings.mask:
        boxes = _snapshot_boxes(snapshot_boxes_path(jpeg_path), settings, width, height)
        keep = None
        if keep_box is not None and len(boxes):
            keep = np.all(np.abs(boxes - np.asarray(keep_box, np.float32)) <= 1.0, axis=1)
        mask_frame(image, boxes, settings, keep=keep)
    static = static_mask(settings, width, height)
    if static is not None:
        _burn_static(image, static, settings.mode)
    return _encoded(image, jpeg_path)


def mask_snapshot_crop(
    crop_path: Path, boxes_file: Path, settings: PrivacySettings, objects: bool = True
) -> bytes:
    """The object crop at `crop_path` as served masked, exactly as its part of the masked
    snapshot: the snapshot's boxes (`boxes_file`) and static polygons moved into the crop.
    A crop whose placement or boxes are unreadable is masked whole."""
    image = cv2.imread(str(crop_path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{crop_path}: not a readable JPEG")
    height, width = image.shape[:2]
    try:
        record = json.loads(boxes_file.read_text())
        x1, y1, x2, y2 = (int(v) for v in record["crop"])
        frame_width, frame_height = (int(v) for v in record["frame"])
        if (x2 - x1, y2 - y1) != (width, height):
            raise ValueError("the crop is not the size its record says")
    except (OSError, ValueError, KeyError, TypeError):
        _obscure(image, 0, 0, width, height, settings.mode)
        return _encoded(image, crop_path)
    if objects and settings.mask:
        boxes = _snapshot_boxes(boxes_file, settings, frame_width, frame_height)
        mask_frame(image, boxes - np.array([x1, y1, x1, y1], np.float32), settings)
    static = static_mask(settings, frame_width, frame_height)
    if static is not None:
        _burn_static(image, np.ascontiguousarray(static[y1:y2, x1:x2]), settings.mode)
    return _encoded(image, crop_path)


def mask_track_crop(
    jpeg: bytes,
    crop_box: Sequence[int],
    class_name: str,
    settings: PrivacySettings,
    objects: bool = True,
) -> bytes:
    """A track's stored crop (`vigil.forensics`) as served masked: the whole crop when its
    object's class is masked (the object is the crop), and the static polygons over the part
    of the frame it was cut from (`crop_box`: x1, y1, x2, y2, frame width, height). A crop
    that cannot be read is refused (ValueError), never served unmasked."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("a stored track crop is not a readable JPEG")
    height, width = image.shape[:2]
    if objects and class_name.lower() in {c.lower() for c in settings.mask}:
        _obscure(image, 0, 0, width, height, settings.mode)
    x1, y1, x2, y2, frame_width, frame_height = (int(v) for v in crop_box)
    static = static_mask(settings, frame_width, frame_height)
    if static is not None and static[y1:y2, x1:x2].any():
        part = cv2.resize(
            static[y1:y2, x1:x2].astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
        )
        _burn_static(image, part.astype(bool), settings.mode)
    return _encoded(image, Path("track crop"))


def _encoded(image: np.ndarray, path: Path) -> bytes:
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_QUALITY])
    if not ok:
        raise ValueError(f"{path}: could not encode the masked picture")
    return jpeg.tobytes()


def _snapshot_boxes(
    boxes_file: Path, settings: PrivacySettings, width: int, height: int
) -> np.ndarray:
    """The boxes of the masked classes in a snapshot's frame (from its `boxes_file`); the
    whole picture when that file is missing or unreadable."""
    whole = np.array([[0, 0, width, height]], np.float32)
    try:
        record = json.loads(boxes_file.read_text())
        boxes = np.asarray(record["boxes"], np.float32).reshape(-1, 4)
        masked = np.isin(np.asarray(record["classes"], dtype=object), settings.mask)
    except (OSError, ValueError, KeyError, TypeError):
        return whole
    if len(masked) != len(boxes):
        return whole
    return boxes[masked]
