// /apps: the installed apps (built-in and from the store) and where each runs, with its state
// and settings. Admins enable, disable, change or remove an instance, or add one to a camera,
// with a form rendered from the app's settings JSON Schema (PUT/DELETE
// /api/cameras/{camera}/apps/{name}; validated by the server, applied without restart).
import { api } from "../api.js";
import { appStateBadges } from "../appstate.js";
import { atLeast, clear, h, showError } from "../dom.js";
import { nameRule, sceneChoices, schemaForm } from "../schemaform.js";

let formCount = 0;

// The form of one instance (existing, or new when `instance.name` is empty).
function instanceForm(app, instance, cameras, reload, notice) {
  formCount += 1;
  const prefix = `app${formCount}`;
  const settings = schemaForm(app.settings_schema, instance.settings, prefix);
  const isNew = !instance.name;
  const camera = isNew
    ? h("select", { id: `${prefix}-camera` }, cameras.map((c) => h("option", { value: c.id }, c.name)))
    : null;
  // Zones, lines and classes are picked from the camera's own (refilled when it changes).
  const pick = () => sceneChoices(isNew ? camera.value : instance.camera).then(settings.setChoices, (error) => showError(error.message));
  pick();
  if (isNew) camera.addEventListener("change", pick);
  const name = isNew ? h("input", { id: `${prefix}-name`, required: true, value: app.id }) : null;
  if (isNew) nameRule().then((rule) => Object.assign(name, { pattern: rule.pattern, title: rule.text })); // the server's
  const enabled = h("input", { id: `${prefix}-enabled`, type: "checkbox", checked: instance.enabled !== false });
  const url = () => `/api/cameras/${encodeURIComponent(isNew ? camera.value : instance.camera)}/apps/${encodeURIComponent(isNew ? name.value.trim() : instance.name)}`;
  const save = async (event) => {
    event.preventDefault();
    showError("");
    try {
      const out = await api(url(), { method: "PUT", body: { type: app.id, settings: settings.read(), enabled: enabled.checked } });
      notice.textContent = out.applied.error ? `Saved, but not applied: ${out.applied.error}` : `Saved (${out.applied.result}).`;
      await reload();
    } catch (error) {
      showError(error.message);
    }
  };
  const remove = async () => {
    if (!confirm(`Remove ${instance.name} from ${instance.camera}?`)) return;
    showError("");
    try {
      await api(url(), { method: "DELETE" });
      notice.textContent = `Removed ${instance.name} from ${instance.camera}.`;
      await reload();
    } catch (error) {
      showError(error.message);
    }
  };
  return h("form", { class: "schema-form", onsubmit: save, dataset: { app: app.id, instance: instance.name || "" } },
    isNew ? h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: `${prefix}-camera` }, "Camera"), camera),
      h("div", { class: "field" }, h("label", { for: `${prefix}-name` }, "Instance name"), name)) : null,
    h("div", { class: "field check" }, h("label", { for: `${prefix}-enabled` }, "Enabled"), enabled),
    settings.element,
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary" }, isNew ? "Add to camera" : "Save"),
      isNew ? null : h("button", { type: "button", class: "danger", onclick: remove }, "Remove")));
}

export async function render(root, context) {
  const admin = atLeast(context.role, "admin");
  const cameras = await api("/api/cameras");
  const list = h("div", { id: "apps-list" });
  const notice = h("p", { id: "apps-status", class: "meta", role: "status" });
  root.append(notice, list);

  async function reload() {
    const apps = await api("/api/apps");
    clear(list, apps.map((app) => {
      const instances = app.instances;
      const rows = instances.map((i) => {
        return h("details", { class: "instance", dataset: { camera: i.camera, instance: i.name } },
          h("summary", {}, `${i.camera} · ${i.name} · `, appStateBadges(i),
            i.last_error ? h("span", { class: "meta" }, ` ${i.last_error}`) : null),
          admin ? instanceForm(app, i, cameras, reload, notice) : h("pre", {}, JSON.stringify(i.settings || {}, null, 2)));
      });
      return h("section", { class: "card", dataset: { app: app.id } },
        h("h2", {}, `${app.name || app.id} `, h("small", {}, `${app.id} ${app.version} · ${app.origin}${app.vendor ? ` · ${app.vendor}` : ""}`)),
        app.description ? h("p", {}, app.description) : null,
        h("p", { class: "meta" }, `Emits ${app.events.join(", ") || "no events"} · sees ${app.data}${app.network ? " · uses the network" : ""}. `, instances.length ? `Runs on ${instances.length} camera instance${instances.length === 1 ? "" : "s"}.` : "Not running on any camera."),
        rows,
        admin ? h("details", { class: "instance" }, h("summary", {}, "Add to a camera…"), instanceForm(app, { settings: {} }, cameras, reload, notice)) : null);
    }));
  }
  await reload();
}
