// /setup: the first admin account, once, from the machine the service runs on.
import { api } from "../api.js";
import { h, showError } from "../dom.js";

export async function render(root) {
  const setup = await api("/api/auth/setup-needed", { redirect: false });
  if (!setup.needed) {
    root.append(h("p", {}, "This service is set up already. ", h("a", { href: "/login" }, "Sign in")));
    return;
  }
  const form = h(
    "form",
    { class: "card narrow", id: "setup-form" },
    h("p", {}, "Create the first administrator account."),
    h("label", { for: "username" }, "Username"),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true }),
    h("label", { for: "password" }, "Password"),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "new-password", required: true }),
    h("label", { for: "confirm" }, "Password again"),
    h("input", { id: "confirm", name: "confirm", type: "password", autocomplete: "new-password", required: true }),
    h("button", { type: "submit" }, "Create administrator"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    if (form.password.value !== form.confirm.value) {
      showError("The passwords differ.");
      return;
    }
    const credentials = { username: form.username.value, password: form.password.value };
    try {
      await api("/api/auth/setup", { method: "POST", redirect: false, body: credentials }); // signs in too
      location.assign("/");
    } catch (error) {
      showError(error.message);
    }
  });
  root.append(form);
}
