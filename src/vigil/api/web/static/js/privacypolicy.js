// A camera's privacy policy as the API gives it (GET /api/cameras/{id} -> privacy): why it
// records, what is masked for whom, and the longest each kind of its data is kept.
import { h } from "./dom.js";

function days(value) {
  if (value === null || value === undefined) return "no time limit";
  return value === 1 ? "1 day" : `${value} days`;
}

const MODE_TEXT = { blur: "blurred", pixelate: "pixelated", solid: "filled" };

function maskText(privacy) {
  const objects = privacy.masked_classes.length
    ? `${privacy.masked_classes.join(", ")} ${MODE_TEXT[privacy.mode] || privacy.mode}` +
      `${privacy.part === "upper" ? " (head and shoulders)" : ""} for ${privacy.masked_for.join(", ")}`
    : "no tracked objects masked";
  const fixed = privacy.static_masks ? `; ${privacy.static_masks} fixed area(s) masked for everyone` : "";
  return objects + fixed;
}

export function privacySection(privacy) {
  const kept = privacy.kept_days;
  const rows = [
    ["Purpose", privacy.purpose || "not stated", "purpose"],
    ["Masks", maskText(privacy), "masks"],
    ["Recordings kept", days(kept.recordings), "recordings"],
    ["Snapshots kept", days(kept.snapshots), "snapshots"],
    ["Tracked boxes kept", days(kept.boxes), "boxes"],
    ["Events kept", days(kept.events), "events"],
  ];
  return h(
    "section",
    { "aria-labelledby": "privacy-title", id: "privacy" },
    h("h2", { id: "privacy-title" }, "Privacy"),
    h("dl", {}, rows.map(([term, text, key]) => [h("dt", {}, term), h("dd", { dataset: { privacy: key } }, text)])),
    h("p", { class: "meta" }, "Longest kept; the disk budget may keep less."),
  );
}
