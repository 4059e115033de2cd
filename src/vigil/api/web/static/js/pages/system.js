// /system: how the service is doing and what to do about it. Checks (CPU, memory, disk days
// left, analysis latency, cameras down), each ok or warning with one line of what to do; CPU
// and memory per process group (the service, the detector, each camera's worker and its
// sandboxed apps); the storage disk; each camera's analysis latency over time (GET
// /api/system); per camera the worker's rates, drops, latency, queue, recording lag and why
// it is down (GET /api/cameras/{id}) and the disk its recordings use (from /metrics). On a
// cluster, for admins, its nodes and the recent camera moves (GET /api/cluster).
import { api } from "../api.js";
import { atLeast, clear, fmtBytes, fmtDuration, fmtTime, h, table } from "../dom.js";
import { healthText } from "../health.js";

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
      h("td", { class: "decoder" }, s.decoder || "–"),
      h("td", { class: "num" }, disk[d.id] === undefined ? "–" : fmtBytes(disk[d.id])),
      h("td", { class: "why" }, d.up ? s.error || "" : healthText(d)));
  });
  const headers = ["Camera", "State", nodes ? "Node" : null, "fps in", "fps analysed", "Dropped", "Analysis ms", "Queue", "Rec. lag s", "Reconnects", "Decoder", "Disk", "Why down, since when"];
  return h("div", { class: "scroll-x" }, table(headers.filter((t) => t !== null), rows));
}

function checkCards(checks) {
  return checks.map((c) => h("article", { class: "sys-card", dataset: { check: c.key, level: c.level } },
    h("h3", {}, c.title, h("span", { class: `badge ${c.level === "ok" ? "ok" : "warn"}` }, c.level)),
    h("p", { class: "value" }, c.value),
    c.advice ? h("p", { class: "todo" }, `What to do: ${c.advice}`) : null));
}

function processTable(system) {
  const rows = system.processes.map((g) => h("tr", { dataset: { group: g.kind, camera: g.camera || "" } },
    h("th", { scope: "row" }, g.name),
    h("td", { class: "num" }, `${g.cpu_percent.toFixed(0)} %`),
    h("td", { class: "num" }, fmtBytes(g.memory_bytes)),
    h("td", {}, g.pids.join(" "))));
  return h("div", { class: "scroll-x" }, table(["Processes", "CPU (per core)", "Memory", "PIDs"], rows,
    `${system.cpu_count} cores, ${fmtBytes(system.memory_total_bytes)} of memory`));
}

function diskLine(disk) {
  if (!disk) return "The storage folder cannot be read.";
  const rate = disk.write_bytes_per_day ? `, recordings written at ${fmtBytes(disk.write_bytes_per_day)} a day` : ", nothing recorded in the last hour";
  return `${disk.path}: ${fmtBytes(disk.free_bytes)} free of ${fmtBytes(disk.total_bytes)}${rate}`;
}

const LATENCY_SPAN_MS = 10 * 60 * 1000; // the chart shows at least the last ten minutes

// Each camera's analysis latency over time, one line per camera (x: time of day).
function latencyChart(canvas, latency, previous) {
  const datasets = Object.entries(latency).map(([camera, points]) => ({
    label: camera, data: points.map(([t, ms]) => ({ x: t * 1000, y: ms })), pointRadius: 2, borderWidth: 2,
  }));
  const now = Date.now();
  const first = Math.min(now - LATENCY_SPAN_MS, ...datasets.flatMap((d) => d.data.map((p) => p.x)));
  if (previous) {
    previous.data.datasets = datasets;
    Object.assign(previous.options.scales.x, { min: first, max: now });
    previous.update("none");
    return previous;
  }
  return new Chart(canvas, {
    type: "line",
    data: { datasets },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
      scales: {
        x: { type: "linear", min: first, max: now, ticks: { maxTicksLimit: 6, callback: (v) => fmtTime(v / 1000, { hour: "2-digit", minute: "2-digit" }) } },
        y: { beginAtZero: true, title: { display: true, text: "ms per analysed frame" } },
      },
    },
  });
}

export async function render(root, context) {
  const summary = h("p", { class: "meta", id: "sys-summary" });
  const cards = h("div", { class: "sys-cards", id: "sys-checks" });
  const processes = h("div", { id: "sys-processes" });
  const diskText = h("p", { class: "meta", id: "sys-disk" });
  const canvas = h("canvas", { id: "latency-chart", role: "img", "aria-label": "Analysis latency over time, per camera" });
  const body = h("div", { id: "sys-table" });
  const nodes = h("section", { id: "sys-nodes", "aria-labelledby": "nodes-title", hidden: true });
  const moves = h("section", { id: "sys-moves", "aria-labelledby": "moves-title", hidden: true });
  root.append(
    summary, cards,
    h("section", { "aria-labelledby": "proc-title" }, h("h2", { id: "proc-title" }, "Processes"), processes, diskText),
    h("section", { "aria-labelledby": "lat-title" }, h("h2", { id: "lat-title" }, "Analysis latency"), h("div", { class: "chart" }, canvas)),
    h("section", { "aria-labelledby": "cams-title" }, h("h2", { id: "cams-title" }, "Cameras"), body),
    nodes, moves,
  );
  let chart = null;
  const refresh = async () => {
    const [system, cameras, metrics, cluster] = await Promise.all([
      api("/api/system"),
      api("/api/cameras"),
      api("/metrics", { text: true }).catch(() => ""),
      clusterState(context),
    ]);
    const details = await Promise.all(cameras.map((c) => api(`/api/cameras/${encodeURIComponent(c.id)}`)));
    const disk = gauge(metrics, "vigil_recording_disk_bytes");
    const totalDisk = Object.values(disk).reduce((a, b) => a + b, 0);
    const alive = cluster ? ` · ${cluster.nodes.filter((n) => n.alive).length} of ${cluster.nodes.length} nodes alive` : "";
    const warnings = system.checks.filter((c) => c.level !== "ok").length;
    summary.textContent = `Vigil ${system.version}, up ${fmtDuration(system.uptime_s)} (since ${fmtTime(system.started_at)}) · ${warnings ? `${warnings} warning${warnings > 1 ? "s" : ""}` : "all ok"} · recordings ${fmtBytes(totalDisk)}${alive}`;
    clear(cards, checkCards(system.checks));
    clear(processes, processTable(system));
    diskText.textContent = diskLine(system.disk);
    chart = latencyChart(canvas, system.latency, chart);
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
