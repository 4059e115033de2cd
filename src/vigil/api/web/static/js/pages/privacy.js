// The camera page's privacy control: for a user the camera's policy masks, a note that
// people are masked; with the unmask permission, "Lift masks" (a reason is required, for at
// most the policy's minutes, maybe pending a second admin's approval), then a banner while
// lifted with "End now", and the live view switched to its unmasked stream (audited).
import { api } from "../api.js";
import { clear, fmtTime, h, showError } from "../dom.js";

const REFRESH_MS = 5000; // a lift ends on its own, or is approved or ended by an admin

function until(seconds) {
  return fmtTime(seconds, { timeStyle: "medium" });
}

// `image`: the live <img> whose stream (`liveUrl`, with its query) follows the lift.
export function privacyControl(cameraId, image, liveUrl) {
  const path = `/api/cameras/${encodeURIComponent(cameraId)}`;
  const box = h("section", { id: "privacy", "aria-live": "polite", hidden: true });
  let shown = null; // the state drawn: "masked", "pending:<id>", "active:<id>"

  const showLive = (unmasked) => {
    const url = unmasked ? `${liveUrl}&unmasked=true` : liveUrl;
    if (image.getAttribute("src") !== url) image.setAttribute("src", url);
  };

  const liftForm = (info) => {
    const reason = h("input", { id: "lift-reason", type: "text", required: true, maxlength: 1000, placeholder: "Why (required, audited)" });
    const minutes = h("input", { id: "lift-minutes", type: "number", min: 1, max: info.lift_minutes, step: 1, value: Math.min(15, info.lift_minutes) });
    const submit = async (event) => {
      event.preventDefault();
      try {
        await api(`${path}/lift`, { method: "POST", body: { reason: reason.value, minutes: Number(minutes.value) } });
        showError("");
        await refresh();
      } catch (error) {
        showError(`Lift masks: ${error.message}`);
      }
    };
    return h(
      "form",
      { id: "lift-form", onsubmit: submit },
      h("label", {}, "Reason ", reason),
      h("label", {}, " Minutes ", minutes),
      h("button", { type: "submit", id: "lift-masks" }, info.four_eyes ? "Ask to lift masks" : "Lift masks"),
    );
  };

  const endButton = (lift, text) =>
    h("button", {
      type: "button",
      id: "end-lift",
      onclick: async () => {
        await api(`/api/lifts/${lift.id}`, { method: "DELETE" }).catch((error) => showError(error.message));
        await refresh();
      },
    }, text);

  const draw = (info) => {
    const lift = info.lift;
    const state = !info.masked ? "none" : lift ? `${lift.status}:${lift.id}` : "masked";
    if (state === shown) return;
    shown = state;
    box.hidden = !info.masked;
    showLive(lift && lift.status === "active");
    if (!info.masked) return clear(box);
    if (lift && lift.status === "active") {
      return clear(
        box,
        h("p", { class: "error", id: "lift-banner", dataset: { lift: lift.id } },
          `Masks lifted until ${until(lift.expires_at)}: you see people unmasked; every view is audited. Reason: ${lift.reason} `,
          endButton(lift, "End now")),
      );
    }
    if (lift) {
      return clear(
        box,
        h("p", { class: "meta", id: "lift-pending", dataset: { lift: lift.id } },
          `Waiting for another admin to approve lifting the masks (reason: ${lift.reason}). `,
          endButton(lift, "Withdraw")),
      );
    }
    return clear(
      box,
      h("p", { class: "meta", id: "masked-note" }, "People on this camera are masked for you."),
      info.may_lift ? liftForm(info) : null,
    );
  };

  const refresh = async () => {
    const info = await api(`${path}/privacy`).catch(() => null);
    if (info) draw(info);
  };
  refresh();
  setInterval(refresh, REFRESH_MS);
  return box;
}
