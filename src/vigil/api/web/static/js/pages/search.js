// /search: forensic search over stored tracks (POST /api/search/tracks). Draw an area or a
// line on the camera's picture, pick a time range, classes, dwell and speed; each hit shows
// the recording at its moment (GET /api/recordings/frame.jpg, masked as playback is) and
// plays it there on the recordings page. The hit's path is drawn over the picture.
import { api } from "../api.js";
import { clear, fmtDuration, fmtTime, fromLocalInput, h, showError, toLocalInput } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";
const THUMB_WIDTH = 320;
const NEED = { area: 3, line: 2 };

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, String(v));
  return element;
}

const asPoints = (points) => points.map(([x, y]) => `${x},${y}`).join(" ");

export async function render(root) {
  const cameras = await api("/api/cameras");
  if (!cameras.length) {
    clear(root, h("p", {}, "No camera you may see."));
    return;
  }
  const asked = new URLSearchParams(location.search).get("camera");
  const camera = h("select", { id: "s-camera" }, cameras.map((c) => h("option", { value: c.id, selected: c.id === asked }, c.name)));
  const now = Date.now() / 1000;
  const from = h("input", { id: "s-from", type: "datetime-local", step: 1, value: toLocalInput(now - 3600) });
  const to = h("input", { id: "s-to", type: "datetime-local", step: 1, value: toLocalInput(now) });
  const classes = h("select", { id: "s-classes", multiple: true, size: 4 });
  const dwell = h("input", { id: "s-dwell", type: "number", min: 0, step: 1, placeholder: "any" });
  const speed = h("input", { id: "s-speed", type: "number", min: 0, step: 1, placeholder: "any" });
  const direction = h("select", { id: "s-direction" },
    h("option", { value: "" }, "either way"), h("option", { value: "in" }, "in (left to right)"), h("option", { value: "out" }, "out"));
  const shapeKind = h("select", { id: "s-shape" },
    h("option", { value: "area" }, "passed through an area"), h("option", { value: "line" }, "crossed a line"), h("option", { value: "" }, "anywhere"));
  const shapeHelp = h("p", { class: "meta", id: "s-shape-help", "aria-live": "polite" });
  const image = h("img", { id: "s-frame", alt: "The camera's current picture, to draw on" });
  const overlay = svg("svg", { id: "s-overlay", viewBox: "0 0 1 1", preserveAspectRatio: "none", role: "img", "aria-label": "The drawn area or line, and the selected track's path" });
  const stage = h("div", { class: "stage search-stage" }, image, overlay);
  const results = h("div", { id: "s-results", class: "search-results" });
  const summary = h("p", { class: "meta", id: "s-summary", "aria-live": "polite" });
  let points = [];
  let path = null;

  function draw() {
    const kind = shapeKind.value;
    const children = [];
    if (kind && points.length) {
      const shape = kind === "line" || points.length < 3 ? "polyline" : "polygon";
      children.push(svg(shape, { points: asPoints(points), class: `search-shape ${kind}`, "vector-effect": "non-scaling-stroke" }));
    }
    if (path) children.push(svg("polyline", { points: asPoints(path), class: "search-path", "vector-effect": "non-scaling-stroke" }));
    overlay.replaceChildren(...children);
    const need = NEED[kind];
    shapeHelp.textContent = !kind
      ? "No place condition: every track of the range."
      : `${points.length} point${points.length === 1 ? "" : "s"}${points.length < need ? ` · click on the picture: ${kind === "line" ? "a line needs 2" : "an area needs at least 3"}` : ""}`;
    direction.disabled = kind !== "line";
  }

  overlay.addEventListener("click", (event) => {
    const kind = shapeKind.value;
    if (!kind) return;
    const box = overlay.getBoundingClientRect();
    const point = [(event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height].map((v) => Number(Math.min(1, Math.max(0, v)).toFixed(4)));
    if (kind === "line" && points.length >= 2) points = [];
    points.push(point);
    draw();
  });

  async function loadCamera() {
    points = [];
    path = null;
    image.src = `/api/cameras/${encodeURIComponent(camera.value)}/frame.jpg?t=${Date.now()}`;
    const config = await api(`/api/cameras/${encodeURIComponent(camera.value)}/config`);
    clear(classes, (config.classes || []).map((c) => h("option", { value: c }, c)));
    draw();
  }

  function hitCard(hit) {
    const play = `/recordings?camera=${encodeURIComponent(hit.camera)}&t=${hit.moment.toFixed(3)}`;
    const facts = [hit.class_name, `seen ${fmtDuration(hit.last_time - hit.first_time)}`];
    if (hit.dwell && shapeKind.value === "area") facts.push(`${fmtDuration(hit.dwell)} in the area`);
    if (hit.speed_kmh !== null) facts.push(`top ${Math.round(hit.speed_kmh)} km/h`);
    const card = h("article", { class: "hit", tabindex: 0, dataset: { track: hit.track_id } },
      hit.picture_url
        ? h("a", { href: play, title: "Play the recording at this moment" },
          h("img", { src: `${hit.picture_url}&width=${THUMB_WIDTH}`, alt: `${hit.class_name} at ${fmtTime(hit.moment)}`, loading: "lazy", width: THUMB_WIDTH }))
        : h("p", { class: "meta no-picture" }, "No recording of this moment."),
      h("p", { class: "hit-facts" },
        hit.crop_url ? h("img", { class: "crop", src: hit.crop_url, alt: `the ${hit.class_name}`, loading: "lazy" }) : null,
        h("span", {}, h("strong", {}, fmtTime(hit.moment)), " · ", facts.join(" · "))),
      hit.picture_url ? h("a", { href: play, class: "button" }, "Play") : null);
    const showPath = () => {
      path = hit.path.map(([, x, y]) => [x, y]);
      if (path.length === 1) path.push(path[0]); // a track seen once: a dot
      draw();
    };
    card.addEventListener("mouseenter", showPath);
    card.addEventListener("focus", showPath);
    return card;
  }

  async function search(event) {
    event?.preventDefault();
    showError("");
    const kind = shapeKind.value;
    if (kind && points.length < NEED[kind]) {
      showError(kind === "line" ? "A line needs 2 points: click twice on the picture." : "An area needs at least 3 points: click on the picture.");
      return;
    }
    const body = { cameras: [camera.value], start: fromLocalInput(from.value), end: fromLocalInput(to.value), limit: 200 };
    const wanted = [...classes.selectedOptions].map((o) => o.value);
    if (wanted.length) body.classes = wanted;
    if (kind === "area") body.polygon = points;
    if (kind === "line") {
      body.line = points;
      if (direction.value) body.direction = direction.value;
    }
    if (dwell.value !== "") body.min_dwell = Number(dwell.value);
    if (speed.value !== "") body.min_speed = Number(speed.value);
    summary.textContent = "Searching…";
    const began = performance.now();
    try {
      const hits = await api("/api/search/tracks", { method: "POST", body });
      summary.textContent = `${hits.length} track${hits.length === 1 ? "" : "s"} found in ${Math.round(performance.now() - began)} ms${hits.length === body.limit ? " (the first 200)" : ""}.`;
      clear(results, hits.map(hitCard));
    } catch (error) {
      summary.textContent = "";
      showError(error.message);
    }
  }

  const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
  const form = h("form", { class: "filters search-form", onsubmit: search },
    field("s-camera", "Camera", camera),
    field("s-from", "From", from),
    field("s-to", "To", to),
    field("s-shape", "Where", shapeKind),
    field("s-direction", "Direction", direction),
    field("s-classes", "Classes (none: all)", classes),
    field("s-dwell", "Dwell at least (s)", dwell),
    field("s-speed", "Speed at least (km/h)", speed),
    h("div", { class: "field" }, h("button", { type: "submit", id: "s-search" }, "Search"),
      h("button", { type: "button", id: "s-clear", onclick: () => { points = []; path = null; draw(); } }, "Clear drawing")));
  camera.addEventListener("change", loadCamera);
  shapeKind.addEventListener("change", () => { points = []; draw(); });
  clear(root,
    h("p", { class: "meta" }, "Every object that passed through an area, crossed a line, stayed or sped — from the tracks Vigil keeps as long as the recordings."),
    form,
    h("div", { class: "search-layout" }, h("section", {}, stage, shapeHelp), h("section", {}, summary, results)));
  await loadCamera();
}
