// /login: username and password for POST /api/auth/login, then back where the user was going.
import { api } from "../api.js";
import { h, showError } from "../dom.js";

// Only a page of this site is followed after signing in. `next` is resolved the way the
// browser will resolve it (which drops tabs and newlines and reads "\\" as "/", so
// "/\t/evil.example" is "//evil.example"), and kept only when it stays on this origin.
export function safeNext() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  let target;
  try {
    target = new URL(next, location.origin);
  } catch {
    return "/";
  }
  if (target.origin !== location.origin) return "/";
  return target.pathname + target.search + target.hash;
}

export async function render(root) {
  const setup = await api("/api/auth/setup-needed", { redirect: false }).catch(() => ({ needed: false }));
  if (setup.needed) {
    location.replace("/setup");
    return;
  }
  const form = h(
    "form",
    { class: "card narrow", id: "login-form" },
    h("label", { for: "username" }, "Username"),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true, autofocus: true }),
    h("label", { for: "password" }, "Password"),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    try {
      await api("/api/auth/login", {
        method: "POST",
        redirect: false,
        body: { username: form.username.value, password: form.password.value },
      });
      location.assign(safeNext());
    } catch (error) {
      showError(error.status === 401 ? "Wrong username or password." : error.message);
    }
  });
  root.append(form);
}
