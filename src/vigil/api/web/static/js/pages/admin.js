// /admin: users (add, change role/cameras, remove, API tokens) and the audit log.
import { api } from "../api.js";
import { clear, fmtTime, h, showError, table } from "../dom.js";

const AUDIT_PAGE = 50;

export async function render(root, context) {
  const users = h("div", { id: "users" });
  const audit = h("div", { id: "audit" });
  const token = h("p", { id: "token", class: "meta", role: "status" });
  const roles = ["viewer", "operator", "admin"];
  const form = h("form", { class: "filters", id: "add-user" },
    h("div", { class: "field" }, h("label", { for: "u-name" }, "Username"), h("input", { id: "u-name", name: "username", required: true, autocomplete: "off" })),
    h("div", { class: "field" }, h("label", { for: "u-password" }, "Password"), h("input", { id: "u-password", name: "password", type: "password", required: true, autocomplete: "new-password" })),
    h("div", { class: "field" }, h("label", { for: "u-role" }, "Role"), h("select", { id: "u-role", name: "role" }, roles.map((r) => h("option", { value: r }, r)))),
    h("div", { class: "field" }, h("label", { for: "u-cameras" }, "Cameras (empty: all)"), h("input", { id: "u-cameras", name: "cameras", placeholder: "gate, yard" })),
    h("button", { type: "submit" }, "Add user"));
  const auditUser = h("input", { id: "a-user", placeholder: "user" });
  const auditAction = h("input", { id: "a-action", placeholder: "action" });
  const auditPager = h("div", { class: "row pager" });
  let auditOffset = 0;
  root.append(
    h("section", { "aria-labelledby": "users-title" }, h("h2", { id: "users-title" }, "Users"), users, token, form),
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
      await Promise.all([loadUsers(), loadAudit()]);
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
          h("button", { type: "button", class: "link", onclick: () => act(async () => {
            const created = await api(`/api/users/${encodeURIComponent(u.username)}/tokens`, { method: "POST" });
            clear(token, `API token for ${u.username} (shown once, copy it now): `, h("code", { id: "token-value" }, created.token));
          }) }, "New API token"),
          self ? null : h("button", { type: "button", class: "link danger remove-user", onclick: () => {
            if (confirm(`Remove ${u.username}?`)) act(() => api(`/api/users/${encodeURIComponent(u.username)}`, { method: "DELETE" }));
          } }, "Remove")));
    })));
  }

  async function loadAudit() {
    const page = await api("/api/audit", { params: { limit: AUDIT_PAGE, offset: auditOffset, user: auditUser.value.trim(), action: auditAction.value.trim() } });
    clear(audit, table(["Time", "User", "Action", "Target", "From", "Detail"], page.items.map((e) =>
      h("tr", {}, h("td", {}, fmtTime(e.time)), h("td", {}, e.username ?? "–"), h("td", {}, e.action), h("td", {}, e.target),
        h("td", {}, e.client_ip ?? ""), h("td", { class: "detail" }, Object.keys(e.detail).length ? JSON.stringify(e.detail) : ""))), `${page.total} entries`));
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
  await Promise.all([loadUsers(), loadAudit()]);
}
