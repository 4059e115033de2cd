// /admin: users (add, change role/cameras, remove), their API tokens (named; listed with
// when made and last used; revoked one by one), the analytics screens' display tokens
// (/kiosk) and the audit log, its details as text.
import { api } from "../api.js";
import { clear, fmtTime, h, showError, table } from "../dom.js";

const AUDIT_PAGE = 50;

// A value of an audit entry's detail as text: lists joined, times readable, nested fields
// in parentheses.
function detailValue(key, value) {
  if (value === null || value === undefined) return key === "cameras" ? "all" : "none";
  if (Array.isArray(value)) return value.length ? value.map((v) => detailValue("", v)).join(", ") : "none";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number" && value > 1e9 && /(_at|time|until|since)$/.test(key)) return fmtTime(value);
  if (typeof value === "object") return `(${auditDetail(value)})`;
  return String(value);
}

// An audit entry's detail as readable text: "role: operator; cameras: gate, yard".
export function auditDetail(detail) {
  return Object.entries(detail).map(([k, v]) => `${k.replaceAll("_", " ")}: ${detailValue(k, v)}`).join("; ");
}

export async function render(root, context) {
  const users = h("div", { id: "users" });
  const audit = h("div", { id: "audit" });
  const token = h("p", { id: "token", class: "meta", role: "status" });
  const tokens = h("section", { id: "tokens", "aria-labelledby": "tokens-title", hidden: true });
  let tokensOf = null; // the user whose tokens are shown
  const roles = ["viewer", "operator", "admin"];
  const form = h("form", { class: "filters", id: "add-user" },
    h("div", { class: "field" }, h("label", { for: "u-name" }, "Username"), h("input", { id: "u-name", name: "username", required: true, autocomplete: "off" })),
    h("div", { class: "field" }, h("label", { for: "u-password" }, "Password"), h("input", { id: "u-password", name: "password", type: "password", required: true, autocomplete: "new-password" })),
    h("div", { class: "field" }, h("label", { for: "u-role" }, "Role"), h("select", { id: "u-role", name: "role" }, roles.map((r) => h("option", { value: r }, r)))),
    h("div", { class: "field" }, h("label", { for: "u-cameras" }, "Cameras (empty: all)"), h("input", { id: "u-cameras", name: "cameras", placeholder: "gate, yard" })),
    h("button", { type: "submit" }, "Add user"));
  const screens = h("section", { id: "screens", "aria-labelledby": "screens-title" });
  const auditUser = h("input", { id: "a-user", placeholder: "user" });
  const auditAction = h("input", { id: "a-action", placeholder: "action" });
  const auditPager = h("div", { class: "row pager" });
  let auditOffset = 0;
  root.append(
    h("section", { "aria-labelledby": "users-title" }, h("h2", { id: "users-title" }, "Users"), h("div", { class: "scroll-x" }, users), form, token, tokens),
    screens,
    h("section", { "aria-labelledby": "audit-title" }, h("h2", { id: "audit-title" }, "Audit log"),
      h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); auditOffset = 0; loadAudit(); } },
        h("div", { class: "field" }, h("label", { for: "a-user" }, "User"), auditUser),
        h("div", { class: "field" }, h("label", { for: "a-action" }, "Action"), auditAction),
        h("button", { type: "submit" }, "Filter")),
      audit, auditPager),
  );

  const act = async (work) => {
    showError("");
    try {
      await work();
      await Promise.all([loadUsers(), loadAudit(), loadTokens(), loadScreens()]);
    } catch (error) {
      showError(error.message);
    }
  };

  async function loadUsers() {
    const list = await api("/api/users");
    clear(users, table(["User", "Role", "Cameras", "Created", ""], list.map((u) => {
      const role = h("select", { "aria-label": `Role of ${u.username}` }, roles.map((r) => h("option", { value: r, selected: r === u.role }, r)));
      role.addEventListener("change", () => act(() => api(`/api/users/${encodeURIComponent(u.username)}`, { method: "PATCH", body: { role: role.value } })));
      const self = u.username === context.user;
      return h("tr", { dataset: { user: u.username } },
        h("td", {}, u.username), h("td", {}, self ? u.role : role), h("td", {}, u.cameras ? u.cameras.join(", ") : "all"),
        h("td", {}, fmtTime(u.created_at)),
        h("td", { class: "row" },
          h("button", { type: "button", class: "link show-tokens", onclick: () => { tokensOf = u.username; clear(token); act(async () => {}); } }, "API tokens"),
          self ? null : h("button", { type: "button", class: "link danger remove-user", onclick: () => {
            if (confirm(`Remove ${u.username}?`)) act(() => api(`/api/users/${encodeURIComponent(u.username)}`, { method: "DELETE" }));
          } }, "Remove")));
    })));
  }

  async function loadTokens() {
    tokens.hidden = tokensOf === null;
    if (tokensOf === null) return;
    const user = tokensOf;
    const path = `/api/users/${encodeURIComponent(user)}/tokens`;
    const list = await api(path);
    const name = h("input", { id: "t-name", name: "name", required: true, maxlength: 100, placeholder: "home-assistant", autocomplete: "off" });
    const create = h("form", { class: "filters", id: "new-token" },
      h("div", { class: "field" }, h("label", { for: "t-name" }, "What will use it"), name),
      h("button", { type: "submit" }, "New API token"));
    create.addEventListener("submit", (event) => {
      event.preventDefault();
      act(async () => {
        const made = await api(path, { method: "POST", body: { name: name.value.trim() } });
        clear(token, `API token "${made.name}" of ${user} (shown once, copy it now): `, h("code", { id: "token-value" }, made.token));
      });
    });
    const rows = list.map((t) => h("tr", { dataset: { token: t.name ?? `#${t.id}` } },
      h("td", {}, t.name ?? h("em", {}, "unnamed")), h("td", {}, fmtTime(t.created_at)),
      h("td", {}, t.last_used ? fmtTime(t.last_used) : "never"),
      h("td", {}, h("button", { type: "button", class: "link danger revoke-token", onclick: () => {
        if (confirm(`Revoke the token ${t.name ?? `#${t.id}`} of ${user}? What uses it stops working.`)) {
          act(() => api(`${path}/${t.id}`, { method: "DELETE" }));
        }
      } }, "Revoke"))));
    clear(tokens, h("h2", { id: "tokens-title" }, `API tokens of ${user}`),
      list.length ? h("div", { class: "scroll-x" }, table(["Name", "Created", "Last used", ""], rows)) : h("p", { class: "meta" }, "No API tokens."),
      create);
  }

  // Display tokens: read-only links for a lobby or control-room screen (numbers only).
  async function loadScreens() {
    const list = await api("/api/display-tokens");
    const name = h("input", { id: "d-name", required: true, maxlength: 64, placeholder: "lobby", autocomplete: "off" });
    const cameras = h("input", { id: "d-cameras", placeholder: "gate, yard" });
    const shown = h("p", { id: "screen-link", class: "meta", role: "status" });
    const create = h("form", { class: "filters", id: "new-screen" },
      h("div", { class: "field" }, h("label", { for: "d-name" }, "Screen"), name),
      h("div", { class: "field" }, h("label", { for: "d-cameras" }, "Cameras (empty: all)"), cameras),
      h("button", { type: "submit" }, "New screen link"));
    create.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = cameras.value.split(",").map((c) => c.trim()).filter(Boolean);
      act(async () => {
        const made = await api("/api/display-tokens", { method: "POST", body: { name: name.value.trim(), cameras: chosen.length ? chosen : null } });
        const link = new URL(made.url, location.origin).href;
        clear(document.getElementById("screen-link"), `Open on the screen (shown once, copy it now): `, h("code", { id: "screen-url" }, link));
      });
    });
    const rows = list.map((t) => h("tr", { dataset: { screen: t.name } },
      h("td", {}, t.name), h("td", {}, t.cameras ? t.cameras.join(", ") : "all"),
      h("td", {}, fmtTime(t.created_at)), h("td", {}, t.last_used ? fmtTime(t.last_used) : "never"),
      h("td", {}, h("button", { type: "button", class: "link danger revoke-screen", onclick: () => {
        if (confirm(`Revoke the screen link ${t.name}? That screen stops showing figures.`)) {
          act(() => api(`/api/display-tokens/${encodeURIComponent(t.name)}`, { method: "DELETE" }));
        }
      } }, "Revoke"))));
    const previous = document.getElementById("screen-link");
    if (previous) shown.replaceChildren(...previous.childNodes);
    clear(screens, h("h2", { id: "screens-title" }, "Analytics screens"),
      h("p", { class: "meta" }, "A link for a lobby or control-room screen (/kiosk): counts, occupancy, waits and flows only — no pictures, no sign-in."),
      list.length ? h("div", { class: "scroll-x" }, table(["Screen", "Cameras", "Created", "Last used", ""], rows)) : h("p", { class: "meta" }, "No screen links."),
      create, shown);
  }

  async function loadAudit() {
    const page = await api("/api/audit", { params: { limit: AUDIT_PAGE, offset: auditOffset, user: auditUser.value.trim(), action: auditAction.value.trim() } });
    clear(audit, h("div", { class: "scroll-x" }, table(["Time", "User", "Action", "Target", "From", "Detail"], page.items.map((e) =>
      h("tr", {}, h("td", {}, fmtTime(e.time)), h("td", {}, e.username ?? "–"), h("td", {}, e.action), h("td", {}, e.target),
        h("td", {}, e.client_ip ?? ""), h("td", { class: "detail" }, auditDetail(e.detail)))), `${page.total} entries`)));
    clear(auditPager,
      h("button", { type: "button", disabled: auditOffset === 0, onclick: () => { auditOffset = Math.max(0, auditOffset - AUDIT_PAGE); loadAudit(); } }, "Newer"),
      h("button", { type: "button", disabled: auditOffset + AUDIT_PAGE >= page.total, onclick: () => { auditOffset += AUDIT_PAGE; loadAudit(); } }, "Older"));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const cameras = form.cameras.value.split(",").map((c) => c.trim()).filter(Boolean);
    act(async () => {
      await api("/api/users", { method: "POST", body: { username: form.username.value.trim(), password: form.password.value, role: form.role.value, cameras: cameras.length ? cameras : null } });
      form.reset();
    });
  });
  await Promise.all([loadUsers(), loadAudit(), loadScreens()]);
}
