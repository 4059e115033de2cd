// /: every camera's annotated live view (MJPEG: boxes, track ids, zones, lines and counts are
// drawn by the server on the frame itself, so they never lag the picture), with its state, why
// it is down and since when, and the latest object metadata from the WebSocket. A grid of more
// than four cameras takes their frames over one WebSocket instead of one MJPEG connection each.
// The tiles are sized to fill the window without scrolling (on a phone: one column); a click
// or double-click on a picture shows that camera alone on the whole window, Esc (or another
// click) leaves.
import { api, liveSocket } from "../api.js";
import { h } from "../dom.js";
import { healthLine, updateHealth } from "../health.js";

export const LIVE_FPS = 10;
// A browser opens at most 6 HTTP/1.1 connections to a host, and each MJPEG stream holds one
// for good: beyond this many cameras the grid takes every camera's frames over one
// WebSocket instead (GET /api/live), leaving connections for the API.
const MAX_STREAMS = 4;
const ASPECT = 4 / 3; // the tiles' shape; a picture of another shape is letterboxed
const MIN_TILE_PX = 280; // below this a tile is too small to watch: scroll instead
const GAP_PX = 8;

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

// The tile width (and column count) that shows `count` tiles largest within the window below
// the grid's top: every column count is tried (rows follow), the tiles keep their shape; the
// fewest columns win a tie, so nine cameras are three rows of three. Where even that makes
// tiles too small, they fill the width and the page scrolls down.
function fitTiles(grid, count) {
  const width = grid.parentElement.clientWidth;
  const main = grid.closest("main");
  const below = main ? parseFloat(getComputedStyle(main).paddingBottom) : 0;
  const height = window.innerHeight - (grid.getBoundingClientRect().top + window.scrollY) - below - 2;
  let best = { tile: 0, columns: 1 };
  for (let columns = 1; columns <= count; columns += 1) {
    const rows = Math.ceil(count / columns);
    const byWidth = (width - GAP_PX * (columns - 1)) / columns;
    const byHeight = ((height - GAP_PX * (rows - 1)) / rows) * ASPECT;
    const tile = Math.min(byWidth, byHeight);
    if (tile > best.tile + 0.5) best = { tile, columns };
  }
  if (best.tile < MIN_TILE_PX) {  // too many to fit (a phone): as many columns as fit, scroll down
    const columns = Math.max(1, Math.floor((width + GAP_PX) / (MIN_TILE_PX + GAP_PX)));
    best = { tile: (width - GAP_PX * (columns - 1)) / columns, columns };
  }
  const tile = Math.floor(Math.min(width, best.tile));
  grid.style.setProperty("--tile-width", `${tile}px`);
  grid.style.maxWidth = `${best.columns * tile + (best.columns - 1) * GAP_PX}px`;
}

export async function render(root) {
  const cameras = await api("/api/cameras");
  if (!cameras.length) {
    root.append(h("p", {}, "No cameras are configured."));
    return;
  }
  const lines = {};
  const images = {};
  const health = {};
  const grid = h("div", { class: "live-grid", id: "live-grid" });
  const stream = cameras.length <= MAX_STREAMS;
  let solo = null; // the tile shown alone on the whole window
  const leaveSolo = () => {
    if (!solo) return;
    solo.classList.remove("solo");
    document.body.classList.remove("live-solo");
    solo.querySelector("button.picture").setAttribute("aria-pressed", "false");
    solo = null;
  };
  const showSolo = (tile) => {
    leaveSolo();
    solo = tile;
    tile.classList.add("solo");
    document.body.classList.add("live-solo");
    tile.querySelector("button.picture").setAttribute("aria-pressed", "true");
  };
  for (const camera of cameras) {
    const page = `/cameras/${encodeURIComponent(camera.id)}`;
    lines[camera.id] = h("p", { class: "meta objects", "aria-live": "off", dataset: { camera: camera.id } }, "");
    images[camera.id] = liveImage(camera, LIVE_FPS, "live", stream);
    health[camera.id] = healthLine(camera);
    const picture = h("button", { type: "button", class: "picture", title: "Show alone (Esc to leave)", "aria-pressed": "false" }, images[camera.id]);
    const tile = h(
      "figure",
      { class: "tile", dataset: { camera: camera.id } },
      picture,
      health[camera.id],
      h(
        "figcaption",
        {},
        h("a", { href: page }, camera.name),
        " ",
        h("span", { class: `badge ${camera.up ? "ok" : "bad"}` }, camera.state),
        lines[camera.id],
      ),
    );
    picture.addEventListener("click", () => (solo === tile ? leaveSolo() : showSolo(tile)));
    picture.addEventListener("dblclick", () => showSolo(tile)); // its two clicks toggled twice
    grid.append(tile);
  }
  root.append(grid);
  const fit = () => fitTiles(grid, cameras.length);
  fit();
  window.addEventListener("resize", fit);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") leaveSolo();
  });
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
  // Refresh the states and reasons now and then (the images themselves are live).
  setInterval(async () => {
    const fresh = await api("/api/cameras").catch(() => []);
    for (const camera of fresh) {
      const tile = grid.querySelector(`figure[data-camera="${CSS.escape(camera.id)}"]`);
      if (!tile) continue;
      const badge = tile.querySelector(".badge");
      badge.textContent = camera.state;
      badge.className = `badge ${camera.up ? "ok" : "bad"}`;
      updateHealth(health[camera.id], camera);
    }
  }, 2000);
}
