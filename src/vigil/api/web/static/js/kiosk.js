// /kiosk: the analytics screen. No controls: it asks GET /api/kiosk/data every second (its
// display cookie is the credential) and shows today's numbers in large type. Numbers only.
import { clear, h } from "./dom.js";

const EVERY_MS = 1000;
let flowChart = null;

function midnight() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.getTime() / 1000;
}

// "2 min 10 s": how long a wait or a stay is, readable from across a room.
function wait(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function card(title, place, ...body) {
  return h("article", { class: "kiosk-card" }, h("h3", {}, title), place ? h("p", { class: "kiosk-place" }, place) : null, ...body);
}

function figure(value, label, id) {
  return h("p", { class: "kiosk-figure" }, h("span", { class: "kiosk-number", dataset: id ? { figure: id } : undefined }, String(value)), h("span", { class: "kiosk-unit" }, label));
}

function lines(data, names) {
  if (!data.lines.length) return [h("p", { class: "kiosk-none" }, "No counting line.")];
  return data.lines.map((l) => card(l.line, names[l.camera],
    h("div", { class: "kiosk-pair" }, figure(l.entered, "in", `${l.camera}/${l.line}/in`), figure(l.exited, "out", `${l.camera}/${l.line}/out`))));
}

function zones(data, names) {
  if (!data.zones.length) return [h("p", { class: "kiosk-none" }, "No occupancy zone.")];
  return data.zones.map((z) => {
    const now = z.current ?? "–";
    const full = z.capacity ? Math.min(1, (z.current ?? 0) / z.capacity) : null;
    return card(z.zone ?? "whole view", names[z.camera],
      figure(z.capacity ? `${now} / ${z.capacity}` : now, "now", `${z.camera}/${z.zone ?? "view"}/now`),
      full === null ? null : h("div", { class: "kiosk-meter", role: "meter", "aria-valuemin": 0, "aria-valuemax": z.capacity, "aria-valuenow": z.current ?? 0, "aria-label": "occupancy against capacity" },
        h("span", { class: full >= 1 ? "full" : "", style: undefined, dataset: { fill: Math.round(full * 100) } })),
      h("p", { class: "kiosk-note" }, `most today: ${z.peak}`));
  });
}

function waits(data, names) {
  if (!data.queues.length) return [h("p", { class: "kiosk-none" }, "No queue measured yet.")];
  return data.queues.map((q) => card(q.zone ?? "queue", names[q.camera],
    figure(wait(q.est_wait_s), "expected wait", `${q.camera}/${q.zone}/wait`),
    h("p", { class: "kiosk-note" }, `${q.waiting} waiting · ${q.served_today} served today` + (q.mean_served_wait_s === null ? "" : ` · waited ${wait(q.mean_served_wait_s)} on average`))));
}

function stays(data, names) {
  if (!data.dwell.length) return [h("p", { class: "kiosk-none" }, "No stay measured yet.")];
  return data.dwell.map((d) => card(d.zone, names[d.camera], figure(wait(d.mean_s), "on average", `${d.camera}/${d.zone}/dwell`),
    h("p", { class: "kiosk-note" }, `${d.tracks} visits today · longest ${wait(d.max_s)}`)));
}

function flow(data) {
  const labels = data.hours.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  if (flowChart) {
    flowChart.data.labels = labels;
    flowChart.data.datasets[0].data = data.flow_in;
    flowChart.data.datasets[1].data = data.flow_out;
    flowChart.update("none");
    return;
  }
  if (typeof Chart === "undefined") return;
  Chart.defaults.font.size = Math.max(14, Math.round(window.innerWidth / 80)); // 24 px on 1920
  Chart.defaults.color = "#c9d1d9";
  flowChart = new Chart(document.getElementById("kiosk-flow"), {
    type: "bar",
    data: { labels, datasets: [{ label: "in", data: data.flow_in, backgroundColor: "#4caf50" }, { label: "out", data: data.flow_out, backgroundColor: "#42a5f5" }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

function status(message) {
  const box = document.getElementById("kiosk-status");
  box.textContent = message || "";
  box.hidden = !message;
}

async function refresh() {
  let response;
  try {
    response = await fetch(`/api/kiosk/data?since=${midnight()}`, { credentials: "same-origin", cache: "no-store" });
  } catch {
    status("Reconnecting…");
    return;
  }
  if (response.status === 401) {
    status("This screen's display token is no longer valid.");
    return;
  }
  if (!response.ok) {
    status("Reconnecting…");
    return;
  }
  const data = await response.json();
  const names = Object.fromEntries(data.names.map((c) => [c.id, c.name]));
  clear(document.getElementById("kiosk-lines"), lines(data, names));
  clear(document.getElementById("kiosk-zones"), zones(data, names));
  clear(document.getElementById("kiosk-waits"), waits(data, names));
  clear(document.getElementById("kiosk-stays"), stays(data, names));
  for (const bar of document.querySelectorAll(".kiosk-meter span")) bar.style.width = `${bar.dataset.fill}%`;
  flow(data);
  document.getElementById("kiosk-clock").textContent = new Date(data.now * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  document.body.dataset.updated = String(data.now);
  status("");
}

async function loop() {
  await refresh();
  setTimeout(loop, EVERY_MS);
}

loop();
