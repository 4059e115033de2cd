// /analytics: line-crossing counts per interval (bars) and occupancy over time (lines), per
// camera, line and zone, from GET /api/counts. Charts by Chart.js (vendored).
import { api } from "../api.js";
import { clear, fmtTime, h, showError } from "../dom.js";

const RANGES = { "6 hours": 6 * 3600, "24 hours": 86400, "7 days": 7 * 86400 };
const INTERVALS = { "5 minutes": 300, "15 minutes": 900, hour: 3600, day: 86400 };
const charts = [];

function label(t, interval) {
  return interval >= 86400 ? fmtTime(t, { dateStyle: "medium" }) : fmtTime(t, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function chart(canvas, type, labels, datasets, yTitle) {
  charts.push(new Chart(canvas, {
    type,
    data: { labels, datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      spanGaps: true,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: yTitle } } },
    },
  }));
}

export async function render(root) {
  const cameras = await api("/api/cameras");
  const wanted = new URLSearchParams(location.search).get("camera");
  const camera = h("select", { id: "a-camera" }, h("option", { value: "" }, "all"),
    cameras.map((c) => h("option", { value: c.id, selected: c.id === wanted }, c.name)));
  const range = h("select", { id: "a-range" }, Object.entries(RANGES).map(([k, v]) => h("option", { value: v, selected: v === 86400 }, k)));
  const interval = h("select", { id: "a-interval" }, Object.entries(INTERVALS).map(([k, v]) => h("option", { value: v, selected: v === 3600 }, `per ${k}`)));
  const out = h("div", { id: "charts" });
  const form = h("form", { class: "filters" },
    h("div", { class: "field" }, h("label", { for: "a-camera" }, "Camera"), camera),
    h("div", { class: "field" }, h("label", { for: "a-range" }, "Last"), range),
    h("div", { class: "field" }, h("label", { for: "a-interval" }, "Buckets"), interval),
    h("button", { type: "submit" }, "Show"));
  root.append(form, out);

  async function load() {
    showError("");
    const step = Number(interval.value);
    const until = Math.ceil(Date.now() / 1000 / step) * step;
    let counts;
    try {
      counts = await api("/api/counts", { params: { camera: camera.value, interval: step, since: until - Number(range.value), until } });
    } catch (error) {
      showError(error.message);
      return;
    }
    while (charts.length) charts.pop().destroy();
    const labels = counts.buckets.map((t) => label(t, step));
    const crossingCanvas = h("canvas", { id: "crossings-chart", role: "img", "aria-label": "Line crossings per interval" });
    const occupancyCanvas = h("canvas", { id: "occupancy-chart", role: "img", "aria-label": "Occupancy over time" });
    clear(out,
      h("section", {}, h("h2", {}, "Line crossings"),
        counts.line_crossings.length ? h("div", { class: "chart" }, crossingCanvas) : h("p", {}, "No line crossings in this range.")),
      h("section", {}, h("h2", {}, "Occupancy"),
        counts.occupancy.length ? h("div", { class: "chart" }, occupancyCanvas) : h("p", {}, "No occupancy samples in this range.")));
    if (counts.line_crossings.length) {
      chart(crossingCanvas, "bar", labels, counts.line_crossings.map((s) => ({
        label: `${s.camera} · ${s.line ?? s.app} · ${s.class_name ?? "all"} · ${s.direction} (${s.total})`,
        data: s.counts,
      })), "crossings");
    }
    if (counts.occupancy.length) {
      chart(occupancyCanvas, "line", labels, counts.occupancy.flatMap((s) => [
        { label: `${s.camera} · ${s.zone ?? s.app} · mean`, data: s.mean },
        { label: `${s.camera} · ${s.zone ?? s.app} · max`, data: s.max, borderDash: [4, 4] },
      ]), "objects in the zone");
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await load();
}
