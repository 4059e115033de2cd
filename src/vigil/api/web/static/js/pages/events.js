// /events: events filtered by camera, app, type, class and time, a page at a time, with their
// snapshots; opening one plays its clip (MP4 with pre- and post-roll) in the browser. An
// event that names an object's box (`attributes.box`, frame pixels: an abandoned or removed
// object) shows the snapshot cropped around the object with its box drawn.
import { api } from "../api.js";
import { atLeast, clear, fmtTime, fromLocalInput, h, showError, table, toLocalInput } from "../dom.js";

const PAGE = 25;
const CROP_MARGIN = 0.6; // of the box's larger side, around the object: enough to see where it is

// The event's object box [x1, y1, x2, y2] in snapshot (frame) pixels, or null.
function eventBox(event) {
  const box = event.attributes?.box;
  const ok = Array.isArray(box) && box.length === 4 && box.every(Number.isFinite) && box[2] > box[0] && box[3] > box[1];
  return ok ? box : null;
}

// A canvas of at most `size` pixels a side: the snapshot around the event's object, its box
// drawn; null for an event without a box or a snapshot.
function objectCrop(event, size, className) {
  const box = eventBox(event);
  if (!box || !event.snapshot_url) return null;
  const canvas = h("canvas", { class: className, width: size, height: size, role: "img", "aria-label": `The object of this ${event.type} event, boxed` });
  const image = new Image();
  image.addEventListener("load", () => {
    const [x1, y1, x2, y2] = box;
    const margin = Math.max(x2 - x1, y2 - y1) * CROP_MARGIN;
    const left = Math.max(0, x1 - margin);
    const top = Math.max(0, y1 - margin);
    const width = Math.min(image.naturalWidth, x2 + margin) - left;
    const height = Math.min(image.naturalHeight, y2 + margin) - top;
    if (width <= 0 || height <= 0) return; // the box is outside the snapshot
    const scale = Math.min(size / width, size / height);
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const context = canvas.getContext("2d");
    context.drawImage(image, left, top, width, height, 0, 0, canvas.width, canvas.height);
    context.strokeStyle = "#ff1744";
    context.lineWidth = 2;
    context.strokeRect((x1 - left) * scale, (y1 - top) * scale, (x2 - x1) * scale, (y2 - y1) * scale);
    canvas.dataset.drawn = "true";
  }, { once: true });
  image.src = event.snapshot_url;
  return canvas;
}

export async function render(root, context) {
  const cameras = await api("/api/cameras");
  const params = new URLSearchParams(location.search);
  const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
  const camera = h("select", { id: "f-camera", name: "camera" }, h("option", { value: "" }, "all"),
    cameras.map((c) => h("option", { value: c.id, selected: c.id === params.get("camera") }, c.name)));
  const app = h("input", { id: "f-app", name: "app", value: params.get("app") || "" });
  const type = h("input", { id: "f-type", name: "type", value: params.get("type") || "", list: "event-types" });
  const cls = h("input", { id: "f-class", name: "class_name", value: params.get("class_name") || "" });
  const since = h("input", { id: "f-since", name: "since", type: "datetime-local", step: 1 });
  const until = h("input", { id: "f-until", name: "until", type: "datetime-local", step: 1 });
  if (params.get("since")) since.value = toLocalInput(Number(params.get("since")));
  if (params.get("until")) until.value = toLocalInput(Number(params.get("until")));
  // The type suggestions: every type an installed app emits (its manifest, GET /api/apps,
  // for operators and admins), and the types of the events shown.
  const typeList = h("datalist", { id: "event-types" });
  const types = new Set();
  const addTypes = (more) => {
    for (const t of more) types.add(t);
    clear(typeList, [...types].sort().map((t) => h("option", { value: t })));
  };
  if (atLeast(context.role, "operator")) addTypes((await api("/api/apps")).flatMap((a) => a.events));
  const form = h("form", { class: "filters", id: "event-filters" },
    field("f-camera", "Camera", camera), field("f-app", "App", app), field("f-type", "Type", type),
    field("f-class", "Class", cls), field("f-since", "From", since), field("f-until", "To", until),
    typeList,
    h("button", { type: "submit" }, "Filter"));
  const results = h("div", { id: "event-results" });
  const pager = h("div", { class: "row pager" });
  const viewer = h("section", { id: "event-view", "aria-live": "polite" });
  root.append(form, h("div", { class: "events-layout" }, h("div", {}, results, pager), viewer));

  let offset = 0;
  const filters = () => ({
    camera: camera.value,
    app: app.value.trim(),
    type: type.value.trim(),
    class_name: cls.value.trim(),
    since: fromLocalInput(since.value),
    until: fromLocalInput(until.value),
  });

  const open = (event) => {
    const video = h("video", { id: "clip", controls: true, preload: "auto", src: event.clip_url, playsinline: true });
    video.addEventListener("error", () => showError(`The clip of event ${event.id} cannot be played (recording not available?).`));
    const rows = [
      ["Time", fmtTime(event.start_time) + (event.end_time && event.end_time !== event.start_time ? ` – ${fmtTime(event.end_time)}` : "")],
      ["Camera", event.camera], ["App", event.app], ["Type", `${event.type} (${event.state})`],
      ["Class", event.class_name ?? ""], ["Track", event.track_id ?? ""],
      ["Zone / line", event.zone || event.line || ""], ["Attributes", JSON.stringify(event.attributes)],
    ];
    const crop = objectCrop(event, 320, "object-crop");
    clear(viewer,
      h("h2", {}, `${event.type} on ${event.camera}`),
      video,
      crop ? h("figure", { class: "object" }, crop, h("figcaption", { class: "meta" }, "The object, boxed on the event's snapshot")) : null,
      h("p", {}, h("a", { href: event.clip_url, download: "" }, "Download the clip")),
      h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])));
    video.play().catch(() => {}); // autoplay may be refused; the controls are there
  };

  const load = async () => {
    showError("");
    let page;
    try {
      page = await api("/api/events", { params: { ...filters(), limit: PAGE, offset } });
    } catch (error) {
      showError(error.message);
      return;
    }
    addTypes(page.items.map((event) => event.type));
    const rows = page.items.map((event) =>
      h("tr", { dataset: { event: event.id } },
        h("td", {}, objectCrop(event, 120, "thumb") || (event.snapshot_url ? h("img", { class: "thumb", src: event.snapshot_url, alt: `Snapshot of ${event.type}`, loading: "lazy" }) : "")),
        h("td", {}, fmtTime(event.start_time)),
        h("td", {}, event.camera), h("td", {}, event.app), h("td", {}, event.type),
        h("td", {}, event.class_name ?? ""), h("td", {}, event.zone || event.line || ""),
        h("td", {}, h("button", { type: "button", class: "link open-event", onclick: () => open(event) }, "Play"))));
    clear(results, page.items.length ? table(["Snapshot", "Time", "Camera", "App", "Type", "Class", "Zone / line", ""], rows, `${page.total} events`) : h("p", {}, "No events match."));
    const last = Math.min(offset + PAGE, page.total);
    clear(pager,
      h("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "Newer"),
      h("span", {}, page.total ? `${offset + 1}–${last} of ${page.total}` : ""),
      h("button", { type: "button", disabled: last >= page.total, onclick: () => { offset += PAGE; load(); } }, "Older"));
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    offset = 0;
    load();
  });
  await load();
}
