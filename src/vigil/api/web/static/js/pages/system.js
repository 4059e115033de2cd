// /system: per camera, the worker's rates, drops, detector latency, queue and recording lag
// (GET /api/cameras/{id}) and the disk its recordings use (from /metrics), refreshed; on a
// cluster, for admins, its nodes and the recent camera moves (GET /api/cluster).
import { api } from "../api.js";
import { atLeast, clear, fmtBytes, fmtDuration, fmtTime, h, table } from "../dom.js";

// One gauge per camera from the Prometheus text: {camera: value}.
function gauge(text, name) {
  const out = {};
  const pattern = new RegExp(`^${name}\\{camera="((?:[^"\\\\]|\\\\.)*)"\\} (\\S+)$`, "gm");
  for (const match of text.matchAll(pattern)) out[match[1]] = Number(match[2]);
  return out;
}

// The cluster's state; null on a single box or for a user who is not an admin.
async function clusterState(context) {
  if (!context.cluster || !atLeast(context.role, "admin")) return null;
  return api("/api/cluster");
}

function nodesTable(cluster) {
  const rows = cluster.nodes.map((n) => h("tr", { dataset: { node: n.id } },
    h("th", { scope: "row" }, n.id, n.head ? [" ", h("span", { class: "badge" }, "head")] : null),
    h("td", {}, h("span", { class: `badge ${n.alive ? "ok" : "bad"}` }, n.alive ? "alive" : "down")),
    h("td", {}, n.address),
    h("td", { class: "num" }, n.cameras.length),
    h("td", { class: "num" }, n.capacity),
    h("td", { class: "num" }, `${Math.round(n.load * 100)} %`),
    h("td", {}, n.cameras.join(", ")),
    h("td", {}, n.pids.join(" "))));
  return table(["Node", "State", "Address", "Cameras", "Capacity", "Load", "Running", "Processes"], rows);
}

function movesTable(cluster) {
  if (!cluster.moves.length) return h("p", { class: "meta" }, "No camera has moved.");
  const rows = cluster.moves.map((m) => h("tr", {},
    h("td", {}, fmtTime(m.at)), h("th", { scope: "row" }, m.camera),
    h("td", {}, m.from_node || "–"), h("td", {}, m.to_node || "–"), h("td", {}, m.why)));
  return table(["When", "Camera", "From", "To", "Why"], rows);
}

function camerasTable(details, disk) {
  const nodes = details.some((d) => d.node);
  const rows = details.map((d) => {
    const s = d.status || {};
    const cell = (v, digits = 1) => h("td", { class: "num" }, v === undefined ? "–" : Number(v).toFixed(digits));
    return h("tr", { dataset: { camera: d.id } },
      h("th", { scope: "row" }, d.name),
      h("td", {}, h("span", { class: `badge ${d.up ? "ok" : "bad"}` }, d.state)),
      nodes ? h("td", {}, d.node || "–") : null,
      cell(s.fps_in), cell(s.fps_processed), cell(s.frames_dropped, 0), cell(s.detector_latency_ms),
      cell(s.queue_depth, 0), cell(s.recording_lag_s), cell(s.reconnects, 0),
      h("td", { class: "num" }, disk[d.id] === undefined ? "–" : fmtBytes(disk[d.id])),
      h("td", {}, s.error || ""));
  });
  const headers = ["Camera", "State", nodes ? "Node" : null, "fps in", "fps analysed", "Dropped", "Detector ms", "Queue", "Rec. lag s", "Reconnects", "Disk", "Last error"];
  return table(headers.filter((t) => t !== null), rows);
}

export async function render(root, context) {
  const summary = h("p", { class: "meta", id: "sys-summary" });
  const body = h("div", { id: "sys-table" });
  const nodes = h("section", { id: "sys-nodes", "aria-labelledby": "nodes-title", hidden: true });
  const moves = h("section", { id: "sys-moves", "aria-labelledby": "moves-title", hidden: true });
  root.append(summary, body, nodes, moves);
  const refresh = async () => {
    const [health, cameras, metrics, cluster] = await Promise.all([
      api("/api/health"),
      api("/api/cameras"),
      api("/metrics", { text: true }).catch(() => ""),
      clusterState(context),
    ]);
    const details = await Promise.all(cameras.map((c) => api(`/api/cameras/${encodeURIComponent(c.id)}`)));
    const disk = gauge(metrics, "vigil_recording_disk_bytes");
    const totalDisk = Object.values(disk).reduce((a, b) => a + b, 0);
    const alive = cluster ? ` · ${cluster.nodes.filter((n) => n.alive).length} of ${cluster.nodes.length} nodes alive` : "";
    summary.textContent = `Service ${health.status}, up ${fmtDuration(health.uptime_s)} · recordings ${fmtBytes(totalDisk)}${alive}`;
    clear(body, camerasTable(details, disk));
    nodes.hidden = moves.hidden = !cluster;
    if (cluster) {
      clear(nodes, h("h2", { id: "nodes-title" }, "Nodes"), nodesTable(cluster));
      clear(moves, h("h2", { id: "moves-title" }, "Recent moves"), movesTable(cluster));
    }
  };
  await refresh();
  setInterval(() => refresh().catch(() => {}), 2000);
}
