// /cameras/{id}: a larger live view, the camera's apps with their live counters (from the
// worker's status, refreshed every second) and the objects of the latest frame.
import { api, liveSocket } from "../api.js";
import { atLeast, clear, h } from "../dom.js";
import { liveImage, objectsLine } from "./live.js";

const CAMERA_FPS = 15;
const APPS_EVERY = 5; // refreshes (seconds) between reloads of the camera's apps

function counterText(counters) {
  return Object.entries(counters || {})
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(2)}`)
    .join(", ");
}

export async function render(root, context) {
  const id = context.camera;
  const path = `/api/cameras/${encodeURIComponent(id)}`;
  const [camera, config] = await Promise.all([api(path), api(`${path}/config`)]);
  const objects = h("p", { class: "meta objects", dataset: { camera: id } }, "waiting for objects…");
  const stateLine = h("p", { class: "meta" });
  const appsBody = h("tbody");
  const tools = [
    h("a", { href: `/events?camera=${encodeURIComponent(id)}` }, "Events"),
    atLeast(context.role, "operator") ? h("a", { href: `/recordings?camera=${encodeURIComponent(id)}` }, "Recordings") : null,
    h("a", { href: `/analytics?camera=${encodeURIComponent(id)}` }, "Analytics"),
    atLeast(context.role, "admin") ? h("a", { href: `${location.pathname}/zones`, id: "edit-zones" }, "Edit zones and lines") : null,
  ];
  root.append(
    h(
      "div",
      { class: "camera-layout" },
      h("figure", { class: "tile big" }, liveImage(camera, CAMERA_FPS, "live"), h("figcaption", {}, stateLine, objects)),
      h(
        "section",
        { "aria-labelledby": "apps-title" },
        h("h2", { id: "apps-title" }, "Apps"),
        h(
          "table",
          { id: "app-counters" },
          h("thead", {}, h("tr", {}, ["App", "Type", "Watching", "State", "Live counters"].map((t) => h("th", { scope: "col" }, t)))),
          appsBody,
        ),
        h("nav", { class: "tools", "aria-label": "Camera" }, tools),
      ),
    ),
  );

  // Counters every second; the camera's apps (they may be edited meanwhile) and their states
  // (running, failed: error, ...: in GET /api/apps, for operators) every few seconds.
  const withStates = atLeast(context.role, "operator");
  let apps = config.apps;
  let installed = [];
  let tick = 0;
  const refresh = async () => {
    if (tick++ % APPS_EVERY === 0) {
      [apps, installed] = await Promise.all([
        api(`${path}/config`).then((c) => c.apps).catch(() => apps),
        withStates ? api("/api/apps").catch(() => installed) : [],
      ]);
    }
    const detail = await api(path).catch(() => null);
    if (!detail) return;
    const status = detail.status || {};
    stateLine.textContent = `${detail.state} · ${(status.fps_processed ?? 0).toFixed(1)} fps analysed · ${status.frames_dropped ?? 0} dropped`;
    const appStates = {};
    for (const app of installed) {
      for (const run of app.instances) if (run.camera === id) appStates[run.name] = run;
    }
    clear(
      appsBody,
      apps.map((app) => {
        const name = app.name;
        const live = appStates[name];
        const settings = app.settings || {};
        const watching = [settings.zone && `zone ${settings.zone}`, settings.line && `line ${settings.line}`]
          .filter(Boolean)
          .join(", ") || "whole frame";
        return h(
          "tr",
          { dataset: { app: name } },
          h("td", {}, name),
          h("td", {}, app.type),
          h("td", {}, watching),
          h("td", {}, live ? live.state + (live.last_error ? `: ${live.last_error}` : "") : app.enabled ? "enabled" : "disabled"),
          h("td", { class: "counters" }, counterText((status.counters || {})[name])),
        );
      }),
    );
  };
  await refresh();
  setInterval(refresh, 1000);
  liveSocket({ camera: id, objects: true }, (message) => {
    if (message.kind !== "objects") return;
    const { text, lagMs } = objectsLine(message);
    objects.textContent = text;
    objects.dataset.objects = String(message.objects.length);
    objects.dataset.lagMs = lagMs.toFixed(0);
  });
}
