// /analytics: line-crossing counts per interval (bars) and occupancy over time (lines), per
// camera, line and zone, from GET /api/counts; and one camera's heat map (where objects were,
// GET /api/cameras/{id}/heatmap.png laid over its frame.jpg) and dwell times per zone (GET
// /api/cameras/{id}/dwell, one bar chart per zone). Charts by Chart.js (vendored).
import { api } from "../api.js";
import { clear, fmtDuration, fmtTime, h, showError } from "../dom.js";

const RANGES = { "6 hours": 6 * 3600, "24 hours": 86400, "7 days": 7 * 86400 };
const INTERVALS = { "5 minutes": 300, "15 minutes": 900, hour: 3600, day: 86400 };
const charts = [];
const dwellCharts = [];

function label(t, interval) {
  return interval >= 86400 ? fmtTime(t, { dateStyle: "medium" }) : fmtTime(t, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function chart(canvas, type, labels, datasets, yTitle, into = charts) {
  into.push(new Chart(canvas, {
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
  if (cameras.length) await renderHeat(root, cameras, wanted);
}

// "0 s–5 s", ..., "30 min–1 h", "≥ 1 h" for the dwell histogram's edges (seconds; the last
// bucket is open).
function bucketLabels(edges) {
  const short = (s) => (s < 60 ? `${s} s` : s < 3600 ? `${s / 60} min` : `${s / 3600} h`);
  return edges.map((edge, i) => (i + 1 < edges.length ? `${short(edge)}–${short(edges[i + 1])}` : `≥ ${short(edge)}`));
}

async function renderHeat(root, cameras, wanted) {
  const camera = h("select", { id: "heat-camera" }, cameras.map((c) => h("option", { value: c.id, selected: c.id === wanted }, c.name)));
  const range = h("select", { id: "heat-range" }, Object.entries(RANGES).map(([k, v]) => h("option", { value: v, selected: v === 86400 }, k)));
  const cls = h("select", { id: "heat-class" });
  const frame = h("img", { id: "heat-frame", alt: "" });
  const overlay = h("img", { id: "heat-overlay", alt: "Heat map: where objects were" });
  const legend = h("p", { class: "meta", id: "heat-legend", "aria-live": "polite" });
  const dwell = h("div", { id: "dwell-charts", class: "dwell-charts" });
  const form = h("form", { class: "filters", id: "heat-form" },
    h("div", { class: "field" }, h("label", { for: "heat-camera" }, "Camera"), camera),
    h("div", { class: "field" }, h("label", { for: "heat-range" }, "Last"), range),
    h("div", { class: "field" }, h("label", { for: "heat-class" }, "Class"), cls),
    h("button", { type: "submit" }, "Show"));
  frame.addEventListener("error", () => { frame.hidden = true; });
  frame.addEventListener("load", () => { frame.hidden = false; });
  root.append(h("section", { id: "heat" },
    h("h2", {}, "Heat map and dwell"),
    h("p", { class: "meta" }, "Where objects' feet were, and how long they stayed in each zone — anonymous totals of the stored tracks."),
    form,
    h("div", { class: "heat-layout" },
      h("div", {}, h("div", { class: "heat-stage" }, frame, overlay), legend, h("p", { class: "meta heat-scale" }, h("span", { class: "heat-bar" }), "few seconds → busiest cell")),
      h("div", {}, h("h3", {}, "Dwell per zone"), dwell))));

  async function classes() {
    let names = [];
    try {
      names = (await api(`/api/cameras/${encodeURIComponent(camera.value)}/config`)).classes || [];
    } catch {
      // no site file behind the service: every class only
    }
    clear(cls, h("option", { value: "" }, "all"), names.map((c) => h("option", { value: c }, c)));
  }

  let latest = 0; // the newest load draws; an older one still in flight gives up
  async function load() {
    const mine = ++latest;
    showError("");
    const end = Date.now() / 1000;
    const params = new URLSearchParams({ start: end - Number(range.value), end });
    if (cls.value) params.set("class", cls.value);
    const base = `/api/cameras/${encodeURIComponent(camera.value)}`;
    frame.src = `${base}/frame.jpg?t=${Date.now()}`;
    try {
      const response = await fetch(`${base}/heatmap.png?${params}`, { credentials: "same-origin" });
      if (!response.ok) throw new Error((await response.json()).detail || response.statusText);
      const picture = await response.blob();
      const result = await api(`${base}/dwell?${params}`);
      if (mine !== latest) return;
      const peak = Number(response.headers.get("X-Heatmap-Peak"));
      const tracks = Number(response.headers.get("X-Heatmap-Tracks"));
      if (overlay.src.startsWith("blob:")) URL.revokeObjectURL(overlay.src);
      overlay.src = URL.createObjectURL(picture);
      legend.textContent = tracks ? `${tracks} tracks · busiest cell ${fmtDuration(peak)}` : "No tracks in this range.";
      while (dwellCharts.length) dwellCharts.pop().destroy();
      const labels = bucketLabels(result.bucket_edges);
      const canvases = result.zones.map((zone) => h("canvas", { role: "img", "aria-label": `Dwell in ${zone.zone}` }));
      clear(dwell, result.zones.length ? result.zones.map((zone, i) => h("figure", { class: "dwell-zone", dataset: { zone: zone.zone } },
        h("figcaption", {}, h("strong", {}, zone.zone),
          ` · ${zone.count} tracks · median ${fmtDuration(zone.p50)} · p90 ${fmtDuration(zone.p90)} · max ${fmtDuration(zone.max)}`),
        h("div", { class: "chart dwell-chart" }, canvases[i]))) : h("p", {}, "No zone visits in this range."));
      result.zones.forEach((zone, i) => chart(canvases[i], "bar", labels, [{ label: "tracks", data: zone.buckets }], "tracks", dwellCharts));
    } catch (error) {
      showError(error.message);
    }
  }
  camera.addEventListener("change", async () => { await classes(); await load(); });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await classes();
  await load();
}
