"""Draw tracks, zones, counting lines and counters on a BGR frame (OpenCV).

`Annotator.draw` never modifies its input: it draws on a copy. The translucent zone fill
is rendered once per frame size (a colour layer and a mask over the zones' bounding
rectangle) and blended per frame, so the hot path stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from vigil.detection.detections import Detections

__all__ = ["Annotator", "format_counter_lines", "format_counts", "track_color", "PALETTE"]

Color = tuple[int, int, int]

#: BGR colours, well separated in hue and readable on video; indexed by track id.
PALETTE: tuple[Color, ...] = (
    (56, 56, 255),
    (151, 157, 255),
    (31, 112, 255),
    (29, 178, 255),
    (49, 210, 207),
    (10, 249, 72),
    (23, 204, 146),
    (134, 219, 61),
    (52, 147, 26),
    (187, 212, 0),
    (168, 153, 44),
    (255, 194, 0),
    (147, 69, 52),
    (255, 115, 100),
    (236, 24, 0),
    (255, 56, 132),
    (133, 0, 82),
    (255, 56, 203),
    (200, 149, 255),
    (199, 55, 255),
)
_ZONE_PALETTE: tuple[Color, ...] = (
    (255, 160, 0),
    (0, 200, 255),
    (200, 0, 200),
    (0, 220, 120),
    (80, 80, 255),
    (255, 255, 0),
)
_UNTRACKED: Color = (180, 180, 180)
_LINE_COLOR: Color = (0, 255, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def track_color(track_id: int) -> Color:
    """Stable colour of a track id (grey for untracked boxes, id < 0)."""
    if track_id < 0:
        return _UNTRACKED
    return PALETTE[(track_id * 7) % len(PALETTE)]  # *7: neighbouring ids get distant colours


def _fmt_number(value: float) -> str:
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.1f}"


def format_counts(counts: Mapping[str, float]) -> str:
    """ "person in": 3, "person out": 5 -> "person in 3 / out 5" (a repeated first word is dropped)."""
    parts: list[str] = []
    prev_head: str | None = None
    for key, value in counts.items():
        words = str(key).split(" ", 1)
        label = words[1] if len(words) == 2 and words[0] == prev_head else str(key)
        prev_head = words[0] if len(words) == 2 else None
        parts.append(f"{label} {_fmt_number(value)}")
    return " / ".join(parts)


def format_counter_lines(
    counters: Mapping[str, float] | Mapping[str, Mapping[str, float]] | None,
) -> list[str]:
    """Panel text lines: `{"lobby": {"occupancy": 4}}` -> `["lobby: occupancy 4"]`,
    `{"entrance": {"person in": 3, "person out": 5}}` -> `["entrance: person in 3 / out 5"]`,
    a flat `{"visitors": 12}` -> `["visitors: 12"]`."""
    if not counters:
        return []
    lines: list[str] = []
    for name, value in counters.items():
        if isinstance(value, Mapping):
            if value:
                lines.append(f"{name}: {format_counts(value)}")
        else:
            lines.append(f"{name}: {_fmt_number(value)}")
    return lines


@dataclass(slots=True)
class _ZoneLayer:
    x0: int
    y0: int
    fill: np.ndarray  # BGR colour layer over the zones' bounding rectangle
    mask: np.ndarray  # uint8 mask (255 inside a zone) over the same rectangle


class Annotator:
    """Draws objects, zones, lines and a counters panel.

    `class_names`: names by class id (a sequence or a mapping). `zones`: name -> polygon
    (K, 2) in pixels. `lines`: name -> (start, end) in pixels. A line's arrow shows the
    direction counted as "in": with `in_side="right"` (default) it points to the right of
    the start->end direction as seen on screen (for a line drawn left to right, downwards) —
    the convention of `vigil.geometry.shapes.Line`; use `in_side="left"` for an inverted line.
    """

    def __init__(
        self,
        class_names: Sequence[str] | Mapping[int, str],
        zones: Mapping[str, np.ndarray] | None = None,
        lines: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
        *,
        zone_alpha: float = 0.25,
        panel_alpha: float = 0.55,
        font_scale: float = 0.45,
        box_thickness: int = 2,
        in_side: Literal["right", "left"] = "right",
    ) -> None:
        self.class_names = (
            dict(class_names) if isinstance(class_names, Mapping) else dict(enumerate(class_names))
        )
        self.zones: dict[str, np.ndarray] = {}
        for name, poly in (zones or {}).items():
            pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
            if len(pts) < 3:
                raise ValueError(f"zone {name!r} needs at least 3 points, got {len(pts)}")
            self.zones[name] = np.round(pts).astype(np.int32)
        self.lines: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}
        for name, (start, end) in (lines or {}).items():
            s = (round(float(start[0])), round(float(start[1])))
            e = (round(float(end[0])), round(float(end[1])))
            if s == e:
                raise ValueError(f"line {name!r} has zero length")
            self.lines[name] = (s, e)
        if in_side not in ("right", "left"):
            raise ValueError(f"in_side must be 'right' or 'left', got {in_side!r}")
        self.zone_alpha = float(zone_alpha)
        self.panel_alpha = float(panel_alpha)
        self.font_scale = float(font_scale)
        self.box_thickness = int(box_thickness)
        self._in_sign = 1.0 if in_side == "right" else -1.0
        self._zone_colors = {
            name: _ZONE_PALETTE[i % len(_ZONE_PALETTE)] for i, name in enumerate(self.zones)
        }
        self._zone_label_at = {
            name: tuple(int(v) for v in poly.mean(axis=0)) for name, poly in self.zones.items()
        }
        self._layers: dict[tuple[int, int], _ZoneLayer | None] = {}
        self._text_h = cv2.getTextSize("Ag", _FONT, self.font_scale, 1)[0][1]

    # ------------------------------------------------------------------ public

    def draw(
        self,
        image: np.ndarray,
        objects: Detections | None = None,
        counters: Mapping[str, float] | Mapping[str, Mapping[str, float]] | None = None,
    ) -> np.ndarray:
        """Return an annotated copy of the BGR uint8 `image`."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"expected a BGR uint8 image (H, W, 3), got {image.dtype} {image.shape}"
            )
        out = np.ascontiguousarray(image).copy()
        if self.zones:
            self._draw_zones(out)
        if self.lines:
            self._draw_lines(out)
        if objects is not None and len(objects):
            self._draw_objects(out, objects)
        panel = format_counter_lines(counters)
        if panel:
            self._draw_panel(out, panel)
        return out

    # ------------------------------------------------------------------ parts

    def _zone_layer(self, height: int, width: int) -> _ZoneLayer | None:
        key = (height, width)
        if key not in self._layers:
            fill = np.zeros((height, width, 3), np.uint8)
            mask = np.zeros((height, width), np.uint8)
            for name, poly in self.zones.items():
                cv2.fillPoly(fill, [poly], self._zone_colors[name])
                cv2.fillPoly(mask, [poly], 255)
            ys, xs = np.nonzero(mask)
            if len(xs) == 0:
                self._layers[key] = None
            else:
                x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
                self._layers[key] = _ZoneLayer(
                    x0,
                    y0,
                    np.ascontiguousarray(fill[y0:y1, x0:x1]),
                    np.ascontiguousarray(mask[y0:y1, x0:x1]),
                )
        return self._layers[key]

    def _draw_zones(self, out: np.ndarray) -> None:
        layer = self._zone_layer(out.shape[0], out.shape[1])
        if layer is not None:
            h, w = layer.mask.shape
            roi = out[layer.y0 : layer.y0 + h, layer.x0 : layer.x0 + w]
            blended = cv2.addWeighted(roi, 1.0 - self.zone_alpha, layer.fill, self.zone_alpha, 0.0)
            cv2.copyTo(blended, layer.mask, roi)
        for name, poly in self.zones.items():
            color = self._zone_colors[name]
            cv2.polylines(out, [poly], True, color, 2, cv2.LINE_AA)
            cx, cy = self._zone_label_at[name]
            self._label(out, name, (cx, cy), color, anchor="center")

    def _draw_lines(self, out: np.ndarray) -> None:
        for name, (s, e) in self.lines.items():
            cv2.line(out, s, e, _LINE_COLOR, 2, cv2.LINE_AA)
            for p in (s, e):
                cv2.circle(out, p, 4, _LINE_COLOR, -1, cv2.LINE_AA)
            dx, dy = e[0] - s[0], e[1] - s[1]
            length = float(np.hypot(dx, dy))
            nx, ny = -dy / length * self._in_sign, dx / length * self._in_sign
            mx, my = (s[0] + e[0]) / 2, (s[1] + e[1]) / 2
            arrow = min(40.0, max(15.0, length * 0.25))
            tail = (round(mx - nx * arrow * 0.5), round(my - ny * arrow * 0.5))
            head = (round(mx + nx * arrow), round(my + ny * arrow))
            cv2.arrowedLine(out, tail, head, _LINE_COLOR, 2, cv2.LINE_AA, tipLength=0.35)
            (tw, th), _ = cv2.getTextSize("in", _FONT, self.font_scale, 1)
            tx = round(head[0] + nx * 12 - tw / 2)
            ty = round(head[1] + ny * 12 + th / 2)
            cv2.putText(out, "in", (tx, ty), _FONT, self.font_scale, _LINE_COLOR, 1, cv2.LINE_AA)
            self._label(out, name, (s[0], s[1] - 6), _LINE_COLOR, anchor="bottom-left")

    def _draw_objects(self, out: np.ndarray, objects: Detections) -> None:
        boxes = np.round(objects.xyxy).astype(np.int32).tolist()
        ids = objects.tracker_id.tolist()
        classes = objects.class_id.tolist()
        confs = objects.confidence.tolist()
        t = self.box_thickness
        for (x0, y0, x1, y1), tid, cls, conf in zip(boxes, ids, classes, confs, strict=True):
            color = track_color(tid)
            cv2.rectangle(out, (x0, y0), (x1, y1), color, t)
            name = self.class_names.get(cls, str(cls))
            # A track not seen in this frame is drawn where it is predicted, with confidence 0:
            # no score then, since "0.00" reads as a detection the model doubted.
            score = f" {conf:.2f}" if conf > 0 else ""
            text = f"#{tid} {name}{score}" if tid >= 0 else f"{name}{score}"
            self._label(out, text, (x0 - t // 2, y0 - t // 2 - 1), color, anchor="bottom-left")

    def _draw_panel(self, out: np.ndarray, lines: list[str]) -> None:
        pad, gap = 6, 5
        widths = [cv2.getTextSize(s, _FONT, self.font_scale, 1)[0][0] for s in lines]
        line_h = self._text_h + gap
        w = min(out.shape[1], max(widths) + 2 * pad)
        h = min(out.shape[0], len(lines) * line_h + 2 * pad - gap + 2)
        roi = out[:h, :w]
        # darken: roi * (1 - alpha) over black
        cv2.convertScaleAbs(roi, roi, 1.0 - self.panel_alpha, 0.0)
        y = pad + self._text_h
        for s in lines:
            cv2.putText(out, s, (pad, y), _FONT, self.font_scale, (255, 255, 255), 1, cv2.LINE_AA)
            y += line_h

    def _label(
        self,
        out: np.ndarray,
        text: str,
        at: tuple[int, int],
        color: Color,
        *,
        anchor: Literal["bottom-left", "center"],
    ) -> None:
        """Text on a filled box of `color`; black or white text by the colour's brightness."""
        (tw, th), base = cv2.getTextSize(text, _FONT, self.font_scale, 1)
        x, y = at
        if anchor == "center":
            x, y = x - tw // 2, y + th // 2
        else:  # text box sits above `at`; flip below when it would leave the frame
            if y - th - base < 0:
                y = y + th + base + 2
        x = max(0, min(x, out.shape[1] - tw - 2))
        y = max(th + 2, min(y, out.shape[0] - base))
        cv2.rectangle(out, (x, y - th - 2), (x + tw + 2, y + base - 1), color, -1)
        luma = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
        ink = (0, 0, 0) if luma > 140 else (255, 255, 255)
        cv2.putText(out, text, (x + 1, y - 1), _FONT, self.font_scale, ink, 1, cv2.LINE_AA)
