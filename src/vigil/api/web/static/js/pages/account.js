// /account: one's own password (POST /api/auth/password asks for the current one again and
// ends every session of the user, this one too: then the login page, for the new one).
import { api } from "../api.js";
import { h, showError } from "../dom.js";

export async function render(root, context) {
  const field = (id, label, autocomplete) => h("div", { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: id, type: "password", required: true, autocomplete }));
  const form = h("form", { class: "card narrow", id: "password-form" },
    h("h2", {}, "Change your password"),
    h("input", { type: "text", name: "username", value: context.user, autocomplete: "username", hidden: true, readonly: true }),
    field("pw-current", "Current password", "current-password"),
    field("pw-new", "New password (at least 10 characters)", "new-password"),
    field("pw-repeat", "New password again", "new-password"),
    h("button", { type: "submit" }, "Change password"),
    h("p", { class: "meta" }, "Every session of yours ends, this one too: sign in again with the new password."));
  root.append(h("p", { class: "meta" }, `Signed in as ${context.user} (${context.role}).`), form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    const fresh = form["pw-new"].value;
    if (fresh !== form["pw-repeat"].value) {
      showError("The two new passwords differ.");
      return;
    }
    try {
      await api("/api/auth/password", { method: "POST", body: { current: form["pw-current"].value, new: fresh }, redirect: false });
    } catch (error) {
      showError(error.message);
      return;
    }
    location.assign("/login?changed=1");
  });
}
