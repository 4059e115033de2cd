// /cameras/{id}: a larger live view, the camera's apps with their states and live counters
// (from the worker's status, refreshed every second), the objects of the latest frame and
// the camera's privacy policy (purpose, masks, how long its data is kept).
import { api, liveSocket } from "../api.js";
import { appStateBadges } from "../appstate.js";
import { healthLine, updateHealth } from "../health.js";
import { atLeast, clear, h } from "../dom.js";
import { privacySection } from "../privacypolicy.js";
import { references } from "../schemaform.js";
import { liveImage, objectsLine } from "./live.js";
import { privacyControl } from "./privacy.js";

const CAMERA_FPS = 15;
const APPS_EVERY = 5; // refreshes (seconds) between reloads of the apps' settings
const COLUMNS = ["App", "Type", "Watching", "State", "Live counters"];

function counterText(counters) {
  return Object.entries(counters || {})
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(2)}`)
    .join(", ");
}

// Settings by app name (null where the user may not see settings: viewers).
function settingsByName(apps) {
  return Object.fromEntries(apps.map((app) => [app.name, app.settings]));
}

// What an app watches: the zones and lines its settings name (whichever fields its schema
// marks as references), else the whole frame; "" when its settings are not shown.
function watchingText(refs, settings) {
  if (!settings) return "";
  const named = ["zone", "line"].flatMap((kind) =>
    (refs?.[kind] || []).flatMap((ref) => [].concat(settings[ref.field] ?? []).map((name) => `${kind} ${name}`)));
  return named.join(", ") || "whole frame";
}

export async function render(root, context) {
  const id = context.camera;
  const path = `/api/cameras/${encodeURIComponent(id)}`;
  // Settings (and the apps' schemas that tell what they name) are for operators and admins.
  const types = atLeast(context.role, "operator") ? api("/api/apps") : [];
  const [camera, config, appTypes] = await Promise.all([api(path), api(`${path}/config`), types]);
  const refs = Object.fromEntries(appTypes.map((type) => [type.id, references(type.settings_schema)]));
  const objects = h("p", { class: "meta objects", dataset: { camera: id } }, "waiting for objects…");
  const stateLine = h("p", { class: "meta" });
  const health = healthLine(camera);
  const appsBody = h("tbody");
  const tools = [
    h("a", { href: `/events?camera=${encodeURIComponent(id)}` }, "Events"),
    atLeast(context.role, "operator") ? h("a", { href: `/recordings?camera=${encodeURIComponent(id)}` }, "Recordings") : null,
    h("a", { href: `/analytics?camera=${encodeURIComponent(id)}` }, "Analytics"),
    atLeast(context.role, "admin") ? h("a", { href: `${location.pathname}/zones`, id: "edit-zones" }, "Edit zones and lines") : null,
  ];
  const live = liveImage(camera, CAMERA_FPS, "live");
  root.append(
    privacyControl(id, live, `${camera.live_url}?fps=${CAMERA_FPS}`),
    h(
      "div",
      { class: "camera-layout" },
      h("figure", { class: "tile big" }, live, health, h("figcaption", {}, stateLine, objects)),
      h(
        "section",
        { "aria-labelledby": "apps-title" },
        h("h2", { id: "apps-title" }, "Apps"),
        // A table where there is room for it, a card per app in a narrow column (app.css).
        h(
          "table",
          { id: "app-counters", class: "cards" },
          h("thead", {}, h("tr", {}, COLUMNS.map((t) => h("th", { scope: "col" }, t)))),
          appsBody,
        ),
        h("nav", { class: "tools", "aria-label": "Camera" }, tools),
        privacySection(camera.privacy),
      ),
    ),
  );

  // Every second the camera's detail: its apps with their states (running, failing while
  // in backoff, restarting, failed, stopped when disabled), what needs attention (errors,
  // refused events, no sandbox or memory cgroup), last error and live counters.
  // What each app watches is in its settings (GET .../config), reloaded every few seconds.
  let settings = settingsByName(config.apps);
  let tick = 0;
  const refresh = async () => {
    if (tick++ % APPS_EVERY === 0) {
      settings = await api(`${path}/config`).then((c) => settingsByName(c.apps)).catch(() => settings);
    }
    const detail = await api(path).catch(() => null);
    if (!detail) return;
    const status = detail.status || {};
    const node = detail.node ? ` · on node ${detail.node}` : "";
    updateHealth(health, detail);
    stateLine.textContent = `${detail.state} · ${(status.fps_processed ?? 0).toFixed(1)} fps analysed · ${status.frames_dropped ?? 0} dropped${node}`;
    clear(
      appsBody,
      detail.apps.map((app) => {
        const watching = watchingText(refs[app.type], settings[app.name]);
        const [name, type, watches, state, counters] = COLUMNS;
        return h(
          "tr",
          { dataset: { app: app.name, state: app.state } },
          h("td", { dataset: { label: name } }, app.name),
          h("td", { dataset: { label: type } }, app.type),
          h("td", { dataset: { label: watches } }, watching),
          h("td", { class: "state", dataset: { label: state } }, h("div", {}, appStateBadges(app), app.last_error ? h("div", { class: "meta last-error" }, app.last_error) : null)),
          h("td", { class: "counters", dataset: { label: counters } }, counterText(app.counters)),
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
