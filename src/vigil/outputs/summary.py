"""End-of-run summary: what was seen and counted, as JSON and as a terminal table."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from vigil.detection.detections import Detections
from vigil.errors import VigilError
from vigil.outputs.annotate import format_counts

if TYPE_CHECKING:
    from vigil.events.event import Event

__all__ = ["RunSummary", "RunStats"]


def _clean_number(value: Any) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else round(value, 4)


@dataclass(slots=True)
class RunSummary:
    """One processing run.

    `duration_s`: seconds of video processed (source timeline); `fps_processed`: frames
    processed per wall-clock second. `objects`: class name -> number of distinct track ids.
    `counters`: app name -> counter name -> value (e.g. `{"entrance": {"person in": 3}}`).
    `events`: app name -> event type -> number of events. `outputs`: kind -> path
    (e.g. `{"video": "out.mp4", "mot": "pred.txt"}`).
    """

    source: str
    frames: int
    duration_s: float
    fps_processed: float
    objects: dict[str, int] = field(default_factory=dict)
    counters: dict[str, dict[str, float]] = field(default_factory=dict)
    events: dict[str, dict[str, int]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_s"] = round(float(self.duration_s), 3)
        data["fps_processed"] = round(float(self.fps_processed), 2)
        data["objects"] = {str(k): int(v) for k, v in self.objects.items()}
        data["counters"] = {
            str(app): {str(k): _clean_number(v) for k, v in values.items()}
            for app, values in self.counters.items()
        }
        data["events"] = {
            str(app): {str(k): int(v) for k, v in types.items()}
            for app, types in self.events.items()
        }
        data["outputs"] = {str(k): str(v) for k, v in self.outputs.items()}
        return data

    def to_json(self, path: str | Path) -> Path:
        """Write the summary as indented JSON (UTF-8); returns the path."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        except OSError as exc:
            raise VigilError(f"cannot write summary {path}: {exc.strerror or exc}") from None
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        return cls(
            source=str(data["source"]),
            frames=int(data["frames"]),
            duration_s=float(data["duration_s"]),
            fps_processed=float(data["fps_processed"]),
            objects=dict(data.get("objects", {})),
            counters={k: dict(v) for k, v in data.get("counters", {}).items()},
            events={k: dict(v) for k, v in data.get("events", {}).items()},
            outputs=dict(data.get("outputs", {})),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> RunSummary:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise VigilError(f"summary file not found: {path}") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise VigilError(f"malformed summary file {path}: {exc}") from None

    def table(self) -> Table:
        """A compact rich table: objects per class, counters per app, events per app and type."""
        title = (
            f"{self.source} · {self.frames} frames · {self.duration_s:.1f} s · "
            f"{self.fps_processed:.1f} fps"
        )
        table = Table(title=title, show_header=True, header_style="bold")
        table.add_column("", style="bold cyan", no_wrap=True)
        table.add_column("name", no_wrap=True)
        table.add_column("value")

        def section(label: str, rows: list[tuple[str, str]]) -> None:
            for i, (name, value) in enumerate(rows):
                table.add_row(label if i == 0 else "", name, value, end_section=i == len(rows) - 1)

        section(
            "objects", [(k, str(v)) for k, v in sorted(self.objects.items(), key=lambda kv: -kv[1])]
        )
        section("counters", [(app, format_counts(c)) for app, c in self.counters.items() if c])
        section(
            "events",
            [
                (app, " / ".join(f"{t} {n}" for t, n in types.items()))
                for app, types in self.events.items()
                if types
            ],
        )
        section("outputs", [(k, str(v)) for k, v in self.outputs.items()])
        if not table.rows:
            table.add_row("", "nothing detected", "")
        return table

    def render_table(self, console: Console | None = None) -> None:
        """Print `table()` to `console` (default: a new stdout console)."""
        (console or Console()).print(self.table())


class RunStats:
    """Accumulates what a `RunSummary` reports while frames are processed.

    `update(detections, pts)` per processed frame; `add_events(events)` as apps emit them;
    `summary(...)` at the end. A track id counts once, under the class it was most often
    given (detectors flicker between e.g. car and truck).
    """

    def __init__(self, class_names: Sequence[str] | Mapping[int, str]) -> None:
        self.class_names = (
            dict(class_names) if isinstance(class_names, Mapping) else dict(enumerate(class_names))
        )
        self.frames = 0
        self.first_pts: float | None = None
        self.last_pts: float | None = None
        self._track_classes: dict[int, dict[int, int]] = {}
        self._events: dict[str, dict[str, int]] = {}

    def update(self, detections: Detections, pts: float | None = None) -> None:
        self.frames += 1
        if pts is not None:
            if self.first_pts is None:
                self.first_pts = float(pts)
            self.last_pts = float(pts)
        tracked = detections.tracker_id >= 0
        if not tracked.any():
            return
        for tid, cls in zip(
            detections.tracker_id[tracked].tolist(),
            detections.class_id[tracked].tolist(),
            strict=True,
        ):
            counts = self._track_classes.setdefault(tid, {})
            counts[cls] = counts.get(cls, 0) + 1

    def add_events(self, events: Iterable[Event]) -> None:
        for event in events:
            if getattr(event, "state", "instant") not in ("instant", "start"):
                continue  # a long-lived event counts once, at its start
            types = self._events.setdefault(event.app, {})
            types[event.type] = types.get(event.type, 0) + 1

    def objects(self) -> dict[str, int]:
        """Class name -> distinct track ids, most frequent class first."""
        out: dict[str, int] = {}
        for counts in self._track_classes.values():
            cls = max(counts.items(), key=lambda kv: (kv[1], -kv[0]))[0]
            name = self.class_names.get(cls, str(cls))
            out[name] = out.get(name, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def summary(
        self,
        source: str,
        *,
        wall_s: float,
        fps: float | None = None,
        counters: Mapping[str, Mapping[str, float]] | None = None,
        outputs: Mapping[str, str | Path] | None = None,
    ) -> RunSummary:
        """`wall_s`: processing time; `fps`: the source frame rate, used for the duration
        when pts were not given (duration = last pts - first pts + 1/fps)."""
        frame_s = 1.0 / fps if fps else 0.0
        if self.first_pts is not None and self.last_pts is not None:
            duration = self.last_pts - self.first_pts + frame_s
        else:
            duration = self.frames * frame_s
        return RunSummary(
            source=source,
            frames=self.frames,
            duration_s=float(duration),
            fps_processed=float(self.frames / wall_s) if wall_s > 0 else 0.0,
            objects=self.objects(),
            counters={a: {k: float(v) for k, v in c.items()} for a, c in (counters or {}).items()},
            events={a: dict(t) for a, t in self._events.items()},
            outputs={k: str(v) for k, v in (outputs or {}).items()},
        )
