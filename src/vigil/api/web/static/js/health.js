// Why a camera is down and since when, in one line for its tile (live grid, camera page):
// "reconnecting since 07:01:02 (3 min) · rtsp://cam/1: connection refused". The reason is the
// worker's (GET /api/cameras: `reason`, `since`).
import { fmtDuration, fmtTime, h } from "./dom.js";

// "07:01:02" today, the date too otherwise.
function clockTime(seconds) {
  const today = fmtTime(seconds, { dateStyle: "short" }) === fmtTime(Date.now() / 1000, { dateStyle: "short" });
  return today ? fmtTime(seconds, { timeStyle: "medium" }) : fmtTime(seconds);
}

export function healthText(camera) {
  if (camera.up) return "";
  const since = camera.since ? ` since ${clockTime(camera.since)} (${fmtDuration(Math.max(0, Date.now() / 1000 - camera.since))})` : "";
  const reason = camera.reason || (camera.state === "unknown" ? "its worker has not reported yet" : "");
  return `${camera.state}${since}${reason ? ` · ${reason}` : ""}`;
}

// A line that says it (hidden while the camera is up); `updateHealth` refreshes it.
export function healthLine(camera) {
  const line = h("p", { class: "health", role: "status", dataset: { camera: camera.id } });
  updateHealth(line, camera);
  return line;
}

export function updateHealth(line, camera) {
  line.textContent = healthText(camera);
  line.hidden = camera.up;
}
