// /system: per camera, the worker's rates, drops, detector latency, queue and recording lag
// (GET /api/cameras/{id}) and the disk its recordings use (from /metrics), refreshed.
import { api } from "../api.js";
import { clear, fmtBytes, fmtDuration, h, table } from "../dom.js";

// One gauge per camera from the Prometheus text: {camera: value}.
function gauge(text, name) {
  const out = {};
  const pattern = new RegExp(`^${name}\\{camera="((?:[^"\\\\]|\\\\.)*)"\\} (\\S+)$`, "gm");
  for (const match of text.matchAll(pattern)) out[match[1]] = Number(match[2]);
  return out;
}

export async function render(root) {
  const summary = h("p", { class: "meta", id: "sys-summary" });
  const body = h("div", { id: "sys-table" });
  root.append(summary, body);
  const refresh = async () => {
    const [health, cameras, metrics] = await Promise.all([
      api("/api/health"),
      api("/api/cameras"),
      api("/metrics", { text: true }).catch(() => ""),
    ]);
    const details = await Promise.all(cameras.map((c) => api(`/api/cameras/${encodeURIComponent(c.id)}`)));
    const disk = gauge(metrics, "vigil_recording_disk_bytes");
    const totalDisk = Object.values(disk).reduce((a, b) => a + b, 0);
    summary.textContent = `Service ${health.status}, up ${fmtDuration(health.uptime_s)} · recordings ${fmtBytes(totalDisk)}`;
    const rows = details.map((d) => {
      const s = d.status || {};
      const cell = (v, digits = 1) => h("td", { class: "num" }, v === undefined ? "–" : Number(v).toFixed(digits));
      return h("tr", { dataset: { camera: d.id } },
        h("th", { scope: "row" }, d.name),
        h("td", {}, h("span", { class: `badge ${d.up ? "ok" : "bad"}` }, d.state)),
        cell(s.fps_in), cell(s.fps_processed), cell(s.frames_dropped, 0), cell(s.detector_latency_ms),
        cell(s.queue_depth, 0), cell(s.recording_lag_s), cell(s.reconnects, 0),
        h("td", { class: "num" }, disk[d.id] === undefined ? "–" : fmtBytes(disk[d.id])),
        h("td", {}, s.error || ""));
    });
    clear(body, table(["Camera", "State", "fps in", "fps analysed", "Dropped", "Detector ms", "Queue", "Rec. lag s", "Reconnects", "Disk", "Last error"], rows));
  };
  await refresh();
  setInterval(() => refresh().catch(() => {}), 2000);
}
