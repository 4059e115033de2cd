// /store: the site's app catalogs (GET /api/store) — what each app is, what it needs (tracks or
// pixels, network), the events it emits, its signature and publisher — and, for admins, the one
// page flow from a catalog to an app running on cameras: a permissions screen saying what the
// app will receive, the install as a background job with its progress (POST
// /api/store/installs, verified as `vigil apps install` verifies), then the cameras to enable it
// on with its settings form (PUT /api/cameras/{id}/apps/{name}, applied without a restart), and
// its live state and first events on each of them.
import { api } from "../api.js";
import { appStateBadges } from "../appstate.js";
import { atLeast, clear, fmtTime, h, showError } from "../dom.js";
import { nameRule, sceneChoices, schemaForm } from "../schemaform.js";

const POLL_MS = 400;
const SIGNATURE = {
  verified: ["ok", "signature verified"],
  unsigned: ["bad", "unsigned"],
  untrusted: ["bad", "untrusted key"],
  altered: ["bad", "signature does not match"],
  other_publisher: ["bad", "not this app's publisher"],
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// What the app receives and may do, in words (the permissions screen and the catalog cards).
function permissions(app) {
  const pixels = app.data === "pixels";
  return [
    {
      key: "data",
      tone: pixels ? "warn" : "ok",
      label: pixels ? "Video pixels" : "Tracks only",
      text: pixels
        ? "Receives the video frames (pixels) of the cameras you enable it on, and their tracked objects."
        : "Receives only the tracked objects (boxes, classes and track ids) of the cameras you enable it on; never their video.",
    },
    {
      key: "network",
      tone: app.network ? "warn" : "ok",
      label: app.network ? "Network access" : "No network",
      text: app.network ? "May connect to the network from its sandbox." : "Its sandbox has no network access.",
    },
    {
      key: "events",
      tone: "",
      label: `Emits ${app.events.length ? app.events.join(", ") : "no events"}`,
      text: app.events.length ? `Emits events of type ${app.events.join(", ")}.` : "Emits no events (counters only).",
    },
  ];
}

function signatureBadge(signature) {
  const [tone, text] = SIGNATURE[signature.status];
  const key = signature.key_id ? ` · key ${signature.key_id}` : "";
  return h("span", { class: `badge ${tone}`, dataset: { signature: signature.status }, title: signature.problem || "" }, text + key);
}

// Why `app` of `catalog` cannot be installed now ("" when it can).
function refusal(catalog, app) {
  if (catalog.index_problem) return `The catalog's index.json ${catalog.index_problem}.`;
  if (app.signature.problem) return `This release ${app.signature.problem}.`;
  if (!app.sdk_ok) return `It needs app SDK ${app.sdk}, which this Vigil does not provide.`;
  return "";
}

export async function render(root, context) {
  const admin = atLeast(context.role, "admin");
  const notice = h("p", { id: "store-status", class: "meta", role: "status" });
  const flow = h("section", { id: "store-flow", class: "card store-flow", hidden: true, "aria-live": "polite" });
  const catalogs = h("div", { id: "store-catalogs" });
  const installed = h("section", { id: "store-installed" });
  root.append(notice, flow, catalogs, installed);
  const cameras = await api("/api/cameras");
  let watch = 0; // the running-status poll of the flow shown; a new flow stops the old one

  function showFlow(...children) {
    watch += 1;
    clear(flow, children);
    flow.hidden = false;
    flow.scrollIntoView({ block: "nearest" });
  }

  function closeFlow() {
    watch += 1;
    flow.hidden = true;
    clear(flow);
  }

  // Step 1: what the app will receive, before anything is installed.
  function askPermission(catalog, app) {
    const why = refusal(catalog, app);
    const action = app.installed ? `Upgrade to ${app.version}` : `Install ${app.version}`;
    const publisher = app.signature.status === "verified"
      ? `Signed by key ${app.signature.key_id}${app.signature.publisher ? `, the publisher of ${app.id} on this site` : " (its first install here pins this key as its publisher)"}.`
      : `Signature: ${SIGNATURE[app.signature.status][1]}.`;
    showFlow(
      h("h2", {}, `${app.name} ${app.version} `, h("small", {}, `by ${app.vendor}`)),
      h("p", {}, `Before you ${app.installed ? "upgrade" : "install"} it, this is what the app will receive and do:`),
      h("ul", { id: "store-permissions", class: "permissions" },
        permissions(app).map((p) => h("li", { dataset: { permission: p.key } }, h("span", { class: `badge ${p.tone}` }, p.label), " ", p.text)),
        h("li", { dataset: { permission: "sandbox" } }, h("span", { class: "badge" }, "Sandboxed"), " Runs in its own sandbox with CPU and memory limits; it sees only what is listed here."),
        h("li", { dataset: { permission: "signature" } }, signatureBadge(app.signature), " ", publisher)),
      app.permission_changes.length
        ? h("div", { class: "error", id: "store-changes" }, h("strong", {}, `New in ${app.version}:`),
          h("ul", {}, app.permission_changes.map((change) => h("li", {}, change))))
        : null,
      why ? h("p", { class: "error", id: "store-refusal" }, why) : null,
      h("div", { class: "row" },
        h("button", { type: "button", id: "store-confirm", class: "primary", disabled: Boolean(why), onclick: () => runInstall(catalog, app) }, action),
        h("button", { type: "button", onclick: closeFlow }, "Cancel")));
  }

  // Step 2: the install job, with its progress.
  async function runInstall(catalog, app) {
    showError("");
    const bar = h("progress", { id: "store-progress", max: 1, value: 0 });
    const step = h("p", { id: "store-step", class: "meta" }, "starting");
    showFlow(h("h2", {}, `Installing ${app.name} ${app.version}`), bar, step);
    let job;
    try {
      job = await api("/api/store/installs", { method: "POST", body: { catalog: catalog.location, app: app.id, version: app.version } });
      while (job.state === "queued" || job.state === "running") {
        bar.value = job.progress;
        step.textContent = job.step;
        await sleep(POLL_MS);
        job = await api(`/api/store/installs/${encodeURIComponent(job.id)}`);
      }
    } catch (error) {
      showError(error.message);
      return;
    }
    if (job.state === "failed") {
      bar.value = job.progress;
      step.textContent = "";
      flow.append(h("p", { class: "error", id: "store-failure" }, `Not installed: ${job.error}`),
        h("button", { type: "button", onclick: closeFlow }, "Close"));
      await reload();
      return;
    }
    notice.textContent = `Installed ${job.app} ${job.installed}${job.previous ? ` (was ${job.previous})` : ""}, signature by ${job.signed_by} verified.`;
    await reload();
    // An upgrade: the cameras running it switch to the new version without a restart.
    const apps = await api("/api/apps");
    const runs = (apps.find((a) => a.id === app.id) || { instances: [] }).instances;
    if (job.previous && runs.length) showRunning(app, runs.map((r) => ({ camera: r.camera, name: r.name })));
    else enableForm({ ...app, installed: job.installed });
  }

  // Step 3: the cameras to run it on, with its settings.
  function enableForm(app) {
    const picks = cameras.map((c) => h("label", { class: "pick" },
      h("input", { type: "checkbox", name: "store-camera", value: c.id, checked: cameras.length === 1 }), ` ${c.name || c.id}`));
    const name = h("input", { id: "store-instance", required: true, value: app.id });
    nameRule().then((rule) => Object.assign(name, { pattern: rule.pattern, title: rule.text })); // the server's
    const settings = schemaForm(app.settings_schema, {}, "store-settings");
    // zones, lines and classes are picked from the first chosen camera's (the server checks each)
    const offerChoices = () => {
      const first = picks.map((p) => p.querySelector("input")).find((i) => i.checked);
      if (first) sceneChoices(first.value).then(settings.setChoices, (error) => showError(error.message));
    };
    for (const pick of picks) pick.querySelector("input").addEventListener("change", offerChoices);
    offerChoices();
    const submit = async (event) => {
      event.preventDefault();
      showError("");
      const chosen = picks.map((p) => p.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      if (!chosen.length) {
        showError("Choose at least one camera.");
        return;
      }
      let values;
      try {
        values = settings.read();
      } catch (error) {
        showError(error.message);
        return;
      }
      const instance = name.value.trim();
      const applied = {};
      for (const camera of chosen) {
        try {
          const out = await api(`/api/cameras/${encodeURIComponent(camera)}/apps/${encodeURIComponent(instance)}`,
            { method: "PUT", body: { type: app.id, settings: values, enabled: true } });
          applied[camera] = out.applied.error ? `not applied: ${out.applied.error}` : out.applied.result;
        } catch (error) {
          showError(`${camera}: ${error.message}`);
          return;
        }
      }
      await reload(); // "runs on" of the installed list
      showRunning(app, chosen.map((camera) => ({ camera, name: instance })), applied);
    };
    showFlow(
      h("h2", {}, `Enable ${app.name} on cameras`),
      h("form", { id: "store-enable", class: "schema-form", onsubmit: submit },
        h("fieldset", { class: "cameras" }, h("legend", {}, "Cameras"), picks),
        h("div", { class: "field" }, h("label", { for: "store-instance" }, "Instance name"), name),
        settings.element,
        h("div", { class: "row" },
          h("button", { type: "submit", class: "primary" }, "Enable"),
          h("button", { type: "button", onclick: closeFlow }, "Later"))));
  }

  // Step 4: its state on each camera (`targets`: [{camera, name}]), and its first events, live.
  async function showRunning(app, targets, applied = {}) {
    const rows = targets.map((t) => h("li", { dataset: { camera: t.camera, instance: t.name } }, t.camera));
    const cameraCount = new Set(targets.map((t) => t.camera)).size;
    showFlow(
      h("h2", {}, `${app.name} on ${cameraCount} camera${cameraCount === 1 ? "" : "s"}`),
      h("ul", { id: "store-running", class: "running" }, rows),
      h("div", { class: "row" }, h("a", { href: "/apps" }, "All apps"), h("button", { type: "button", onclick: closeFlow }, "Done")));
    const mine = watch;
    while (mine === watch && document.contains(flow)) {
      try {
        const apps = await api("/api/apps");
        const runs = (apps.find((a) => a.id === app.id) || { instances: [] }).instances;
        for (const [i, { camera, name }] of targets.entries()) {
          const run = runs.find((r) => r.camera === camera && r.name === name);
          const events = await api("/api/events", { params: { camera, app: name, limit: 3 } });
          const latest = events.items.map((e) => h("li", {}, `${fmtTime(e.start_time)} · ${e.type}`));
          clear(rows[i],
            h("strong", {}, camera), ` ${name} `, run ? appStateBadges(run) : h("span", { class: "badge" }, applied[camera] || "waiting"),
            run && run.version ? h("span", { class: "meta", dataset: { version: run.version } }, ` version ${run.version}`) : null,
            run && run.last_error ? h("span", { class: "meta" }, ` ${run.last_error}`) : null,
            h("span", { class: "meta", dataset: { events: String(events.items.length) } },
              events.items.length ? " · latest events:" : " · no events yet"),
            latest.length ? h("ul", { class: "events" }, latest) : null);
        }
      } catch (error) {
        showError(error.message);
        return;
      }
      await sleep(1000);
    }
  }

  async function removeApp(appId) {
    if (!confirm(`Remove ${appId}?`)) return;
    showError("");
    try {
      const out = await api(`/api/store/apps/${encodeURIComponent(appId)}`, { method: "DELETE" });
      notice.textContent = `Removed ${out.removed} ${out.version}.`;
    } catch (error) {
      showError(error.message);
    }
    await reload();
  }

  function appCard(catalog, app) {
    const status = app.installed
      ? h("span", { class: "badge ok", dataset: { installed: app.installed } }, `installed ${app.installed}`)
      : null;
    const actions = [];
    if (admin && (!app.installed || app.upgrade)) {
      actions.push(h("button", { type: "button", class: "primary", dataset: { action: app.installed ? "upgrade" : "install" }, onclick: () => askPermission(catalog, app) },
        app.installed ? `Upgrade to ${app.version}…` : "Install…"));
    }
    if (admin && app.installed) {
      actions.push(h("button", { type: "button", dataset: { action: "enable" }, onclick: () => enableForm(app) }, "Enable on cameras…"));
      actions.push(h("button", { type: "button", class: "danger", dataset: { action: "remove" }, onclick: () => removeApp(app.id) }, "Remove"));
    }
    return h("article", { class: "card store-app", dataset: { app: app.id } },
      h("h3", {}, `${app.name} `, h("small", {}, `${app.id} ${app.version} · ${app.vendor}`)),
      app.description ? h("p", {}, app.description) : null,
      h("p", { class: "needs" }, permissions(app).map((p) => h("span", { class: `badge ${p.tone}`, title: p.text }, p.label)), signatureBadge(app.signature), status,
        app.sdk_ok ? null : h("span", { class: "badge bad" }, `needs SDK ${app.sdk}`)),
      app.signature.publisher ? h("p", { class: "meta" }, `Publisher key here: ${app.signature.publisher}`) : null,
      actions.length ? h("div", { class: "row" }, actions) : null);
  }

  async function reload() {
    const store = await api("/api/store");
    clear(catalogs, store.catalogs.length ? store.catalogs.map((catalog) => h("section", { class: "catalog", dataset: { catalog: catalog.location } },
      h("h2", {}, "Catalog ", h("small", { class: "location" }, catalog.location)),
      catalog.error ? h("p", { class: "error" }, catalog.error) : null,
      catalog.index_problem ? h("p", { class: "error" }, `Its index.json ${catalog.index_problem}: nothing installs from it.`) : null,
      h("div", { class: "store-grid" }, catalog.apps.map((app) => appCard(catalog, app))),
      !catalog.error && !catalog.apps.length ? h("p", { class: "meta" }, "It lists no apps.") : null))
      : h("p", { class: "meta" }, "No catalog is configured: add one under store.catalogs in the site file (or set VIGIL_CATALOG)."));
    clear(installed, h("h2", {}, "Installed from the store"),
      store.installed.length ? h("ul", { class: "installed" }, store.installed.map((app) => h("li", { dataset: { app: app.id } },
        h("strong", {}, `${app.id} ${app.version}`), ` · ${app.signed_by ? `signed by ${app.signed_by}` : "UNVERIFIED (developer mode)"} · `,
        app.cameras.length ? `runs on ${app.cameras.join(", ")}` : "on no camera",
        admin ? [" · ", h("button", { type: "button", class: "link danger", onclick: () => removeApp(app.id) }, "Remove")] : null)))
        : h("p", { class: "meta" }, "No app is installed from the store yet."));
  }
  await reload();
}
