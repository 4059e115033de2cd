// /: every camera's annotated live view (MJPEG: boxes, track ids, zones, lines and counts are
// drawn by the server on the frame itself, so they never lag the picture), with its state and
// the latest object metadata from the WebSocket. A grid of more than four cameras takes their
// frames over one WebSocket instead of one MJPEG connection each.
import { api, liveSocket } from "../api.js";
import { h } from "../dom.js";

export const LIVE_FPS = 10;
// A browser opens at most 6 HTTP/1.1 connections to a host, and each MJPEG stream holds one
// for good: beyond this many cameras the grid takes every camera's frames over one
// WebSocket instead (GET /api/live), leaving connections for the API.
const MAX_STREAMS = 4;

// A live <img> of the camera: its MJPEG stream, or (`stream` false) an empty one that
// `liveFrames` fills.
export function liveImage(camera, fps, className, stream = true) {
  return h("img", {
    class: className,
    src: stream ? `${camera.live_url}?fps=${fps}` : undefined,
    alt: `Live view of ${camera.name}`,
    dataset: { camera: camera.id },
  });
}

// Every camera's frames over one WebSocket (binary messages: camera id, newline, JPEG) into
// `images` (camera id -> <img>); reconnects after a drop.
function liveFrames(fps, images) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const open = () => {
    const socket = new WebSocket(`${scheme}://${location.host}/api/live?fps=${fps}`);
    socket.binaryType = "arraybuffer";
    socket.onmessage = ({ data }) => {
      const bytes = new Uint8Array(data);
      const cut = bytes.indexOf(10);
      const img = images[new TextDecoder().decode(bytes.subarray(0, cut))];
      if (!img) return;
      const previous = img.src;
      img.src = URL.createObjectURL(new Blob([bytes.subarray(cut + 1)], { type: "image/jpeg" }));
      if (previous.startsWith("blob:")) URL.revokeObjectURL(previous);
    };
    socket.onclose = () => setTimeout(open, 2000);
  };
  open();
}

// Object metadata of the WebSocket, shown per camera: how many objects, and how long after
// the frame's capture it reached the browser.
export function objectsLine(message) {
  const lagMs = Math.max(0, Date.now() - message.wall_time * 1000);
  const names = {};
  for (const o of message.objects) names[o.class_name] = (names[o.class_name] || 0) + 1;
  const summary = Object.entries(names).map(([k, n]) => `${n} ${k}`).join(", ") || "no objects";
  return { text: `${summary} · metadata ${lagMs.toFixed(0)} ms after capture`, lagMs };
}

export async function render(root) {
  const cameras = await api("/api/cameras");
  if (!cameras.length) {
    root.append(h("p", {}, "No cameras are configured."));
    return;
  }
  const lines = {};
  const images = {};
  const grid = h("div", { class: "grid" });
  const stream = cameras.length <= MAX_STREAMS;
  for (const camera of cameras) {
    lines[camera.id] = h("p", { class: "meta objects", "aria-live": "off", dataset: { camera: camera.id } }, "");
    images[camera.id] = liveImage(camera, LIVE_FPS, "live", stream);
    grid.append(
      h(
        "figure",
        { class: "tile" },
        h("a", { href: `/cameras/${encodeURIComponent(camera.id)}` }, images[camera.id]),
        h(
          "figcaption",
          {},
          h("a", { href: `/cameras/${encodeURIComponent(camera.id)}` }, camera.name),
          " ",
          h("span", { class: `badge ${camera.up ? "ok" : "bad"}` }, camera.state),
          lines[camera.id],
        ),
      ),
    );
  }
  root.append(grid);
  if (!stream) liveFrames(LIVE_FPS, images);
  liveSocket({ objects: true }, (message) => {
    if (message.kind !== "objects" || !lines[message.camera]) return;
    const line = lines[message.camera];
    const { text, lagMs } = objectsLine(message);
    line.textContent = text;
    line.dataset.objects = String(message.objects.length);
    line.dataset.lagMs = lagMs.toFixed(0);
    line.dataset.frame = String(message.frame_index);
  });
  // Refresh the states now and then (the images themselves are live).
  setInterval(async () => {
    const fresh = await api("/api/cameras").catch(() => []);
    for (const camera of fresh) {
      const badge = grid.querySelector(`img[data-camera="${CSS.escape(camera.id)}"]`)
        ?.closest("figure")
        ?.querySelector(".badge");
      if (badge) {
        badge.textContent = camera.state;
        badge.className = `badge ${camera.up ? "ok" : "bad"}`;
      }
    }
  }, 5000);
}
