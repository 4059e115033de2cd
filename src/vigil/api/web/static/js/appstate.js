// An app instance's state as the operator should see it (camera page, Apps page): the state
// badge, and markers for what needs attention: a failing app in backoff (it raised and is
// skipped for a while), a store app without bubblewrap or without a memory cgroup, and the
// boundary's counts of calls that raised and of events it refused.
import { h } from "./dom.js";

const TONE = { running: "ok", failed: "bad", failing: "warn", restarting: "warn" };

export function appStateBadges(app) {
  const state = app.enabled === false ? "disabled" : app.state || "unknown";
  const label = state === "failing" && app.backoff_s > 0 ? `failing · retry in ${Math.ceil(app.backoff_s)} s` : state;
  const marker = (name, text, title) => h("span", { class: "badge warn", dataset: { marker: name }, title }, text);
  return [
    h("span", { class: `badge state ${TONE[state] || ""}` }, label),
    app.restarts ? marker("restarts", `${app.restarts} restart${app.restarts === 1 ? "" : "s"}`, "times its sandboxed process was restarted") : null,
    app.sandboxed === false ? marker("no-sandbox", "not sandboxed", "bubblewrap is unavailable: the app runs with resource limits only") : null,
    app.memory_cgroup === false
      ? marker("no-memory-cgroup", "no memory cgroup", "memory cgroups are unavailable: its memory is limited by address space, tmpfs and file size only")
      : null,
    app.errors ? marker("errors", `${app.errors} error${app.errors === 1 ? "" : "s"}`, "calls into the app that raised") : null,
    app.rejected ? marker("rejected", `${app.rejected} rejected`, "events or counter names of the app that Vigil refused") : null,
  ];
}
