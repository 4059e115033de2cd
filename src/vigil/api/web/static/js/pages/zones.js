// /cameras/{id}/zones: the zone, line and static privacy mask editor, drawn over the
// camera's current frame. Privacy masks (the camera's `privacy.static` polygons) are masked
// for everyone on everything served and left out of motion and detection; they have no name
// in the site file and no apps.
//
// An SVG overlay whose viewBox is the frame size lies exactly on the image, so its user units
// are frame pixels whatever size the image is shown at. Click on the frame to add a point to
// the selected shape, drag a point to move it. The site config takes normalised (0..1) or
// pixel coordinates: new shapes are saved normalised, shapes read in pixels stay in pixels.
// Saving PUTs the whole scene (zones, lines, apps, masks) to /api/cameras/{id}/config; the server
// validates it (its one-line error is shown) and applies it without a restart.
import { api } from "../api.js";
import { clear, h, showError } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, String(v));
  return element;
}

const round = (value, digits) => Number(value.toFixed(digits));
const KIND_TEXT = { zone: "zone", line: "line", mask: "privacy" };

// Which settings of an app name a zone, a line or classes: those its settings JSON Schema
// marks `"x-vigil-ref"` (the SDK's ZoneName, LineName, ClassName), a name or a list of names.
// { zone: [{ field, many }], line: [...], class: [...] }
export function references(schema) {
  const marked = (s, kind) => Boolean(s) && (s["x-vigil-ref"] === kind || (s.anyOf || []).some((b) => b["x-vigil-ref"] === kind));
  const out = { zone: [], line: [], class: [] };
  for (const [field, s] of Object.entries(schema?.properties || {})) {
    for (const kind of Object.keys(out)) {
      if (marked(s, kind)) out[kind].push({ field, many: false });
      else if ([s, ...(s.anyOf || [])].some((b) => marked(b.items, kind))) out[kind].push({ field, many: true });
    }
  }
  return out;
}

// Every app type's references (GET /api/apps).
async function appReferences() {
  return Object.fromEntries((await api("/api/apps")).map((app) => [app.id, references(app.settings_schema)]));
}

export async function render(root, context) {
  const base = `/api/cameras/${encodeURIComponent(context.camera)}`;
  const [config, refs] = await Promise.all([api(`${base}/config`), appReferences()]);
  const fieldsOf = (type, kind) => refs[type]?.[kind] || [];
  const typesFor = (kind) => Object.keys(refs).filter((type) => fieldsOf(type, kind).length);
  const image = h("img", { id: "frame", alt: "The camera's current frame", src: `${base}/frame.jpg?t=${Date.now()}` });
  await new Promise((resolve) => {
    image.addEventListener("load", resolve, { once: true });
    image.addEventListener("error", resolve, { once: true });
  });
  if (!image.naturalWidth) throw new Error("No frame from this camera yet: the editor needs one to draw on.");
  const [W, H] = config.frame_size || [image.naturalWidth, image.naturalHeight];

  // The editable scene: shapes in frame pixels, with the unit they are saved in.
  const toPx = (points) => {
    const normalised = points.flat().every((c) => Math.abs(c) <= 1);
    return { normalised, points: points.map(([x, y]) => (normalised ? [x * W, y * H] : [x, y])) };
  };
  const shapes = [];
  for (const [name, zone] of Object.entries(config.zones || {})) {
    shapes.push({ kind: "zone", name, ...toPx(zone.points) });
  }
  for (const [name, line] of Object.entries(config.lines || {})) {
    shapes.push({ kind: "line", name, ...toPx([line.start, line.end]) });
  }
  (config.static_masks || []).forEach((mask, i) => shapes.push({ kind: "mask", name: `mask${i + 1}`, ...toPx(mask.points) }));
  let apps = config.apps.map((a) => ({ ...a, settings: { ...a.settings } }));
  let revision = config.revision; // a save is refused (409) if someone changed the file since
  let selected = null;
  let focused = -1; // the point that keeps the keyboard focus across a redraw
  let dirty = false;

  const overlay = svg("svg", { id: "overlay", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "Zones, lines and privacy masks" });
  const stage = h("div", { class: "stage", id: "stage" }, image, overlay);
  const panel = h("div", { class: "panel" });
  const status = h("p", { id: "save-status", role: "status" });
  root.append(
    h("p", { class: "meta" }, "Select or create a zone, line or privacy mask, then click on the frame to add points; drag a point to move it."),
    h("div", { class: "editor" }, stage, panel),
  );

  const framePoint = (event) => {
    const rect = overlay.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * W;
    const y = ((event.clientY - rect.top) / rect.height) * H;
    return [Math.min(Math.max(x, 0), W), Math.min(Math.max(y, 0), H)];
  };
  const changed = () => {
    dirty = true;
    status.textContent = "Unsaved changes.";
    draw();
  };

  function draw() {
    clear(overlay);
    const keepFocus = focused;
    focused = -1;
    const r = Math.max(W, H) / 120;
    // An arrow at a line's end: crossing it left to right of start→end counts as "in".
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 5, markerHeight: 5, orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }));
    const defs = svg("defs");
    defs.append(marker);
    overlay.append(defs);
    for (const shape of shapes) {
      const isSelected = shape === selected;
      const cls = `${shape.kind}${isSelected ? " selected" : ""}`;
      const pts = shape.points.map((p) => p.join(",")).join(" ");
      const body = shape.kind === "line" ? svg("polyline", { points: pts, class: cls }) : svg("polygon", { points: pts, class: cls });
      body.style.strokeWidth = `${r / 2}px`;
      if (shape.kind === "line") body.setAttribute("marker-end", "url(#arrow)");
      body.addEventListener("pointerdown", (event) => {
        if (selected === shape) return; // clicks inside the selected shape add points
        event.stopPropagation();
        selected = shape;
        draw();
        form();
      });
      overlay.append(body);
      if (shape.points.length) {
        const [x, y] = shape.points[0];
        const label = svg("text", { x, y: y - r * 1.5, class: "label", "font-size": r * 3 });
        label.textContent = shape.name;
        overlay.append(label);
      }
      if (!isSelected) continue;
      shape.points.forEach((point, i) => {
        const handle = svg("circle", {
          cx: point[0], cy: point[1], r, class: "handle", "data-index": i,
          tabindex: 0, role: "button", "aria-label": `Point ${i + 1} of ${KIND_TEXT[shape.kind]} ${shape.name}: arrow keys move it, Delete removes it`,
        });
        // Keyboard: arrows move the point (Shift: 10 times as far), Delete removes it.
        handle.addEventListener("keydown", (event) => {
          const step = (event.shiftKey ? 10 : 1) * Math.max(W, H) / 200;
          const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
          if (event.key in moves) {
            const [dx, dy] = moves[event.key];
            shape.points[i] = [Math.min(Math.max(point[0] + dx, 0), W), Math.min(Math.max(point[1] + dy, 0), H)];
          } else if (event.key === "Delete" || event.key === "Backspace") {
            shape.points.splice(i, 1);
          } else {
            return;
          }
          event.preventDefault();
          focused = Math.min(i, shape.points.length - 1);
          changed();
          form();
        });
        if (i === keepFocus) queueMicrotask(() => handle.focus());
        handle.addEventListener("pointerdown", (event) => {
          event.stopPropagation();
          handle.setPointerCapture(event.pointerId);
          const move = (e) => {
            shape.points[i] = framePoint(e);
            handle.setAttribute("cx", shape.points[i][0]);
            handle.setAttribute("cy", shape.points[i][1]);
            body.setAttribute("points", shape.points.map((p) => p.join(",")).join(" "));
          };
          handle.addEventListener("pointermove", move);
          handle.addEventListener("pointerup", () => {
            handle.removeEventListener("pointermove", move);
            changed();
          }, { once: true });
        });
        overlay.append(handle);
      });
    }
  }

  overlay.addEventListener("pointerdown", (event) => {
    if (!selected) return;
    if (selected.kind === "line" && selected.points.length >= 2) return;
    selected.points.push(framePoint(event));
    changed();
  });

  const uniqueName = (prefix) => {
    let n = 1;
    while (shapes.some((s) => s.name === `${prefix}${n}`)) n += 1;
    return `${prefix}${n}`;
  };
  const names = (app, ref) => [].concat(app.settings[ref.field] ?? []);
  const watches = (app, shape) => fieldsOf(app.type, shape.kind).some((ref) => names(app, ref).includes(shape.name));
  const appsOf = (shape) => apps.filter((a) => watches(a, shape));
  // Rename (`to` a name) or forget (`to` null) the shape in its apps' settings; an app left
  // without it (a single name, or an emptied list) is removed.
  const replaceIn = (shape, to) => {
    for (const app of appsOf(shape)) {
      for (const ref of fieldsOf(app.type, shape.kind).filter((r) => names(app, r).includes(shape.name))) {
        const kept = names(app, ref).map((n) => (n === shape.name ? to : n)).filter((n) => n !== null);
        if (!kept.length) apps = apps.filter((a) => a !== app);
        else if (ref.many) app.settings[ref.field] = kept;
        else if (app.settings[ref.field] === shape.name) app.settings[ref.field] = to;
      }
    }
  };

  function form() {
    const list = h(
      "ul",
      { class: "shapes" },
      shapes.map((shape) =>
        h("li", {}, h("button", {
          type: "button",
          class: shape === selected ? "link current" : "link",
          onclick: () => {
            selected = shape;
            draw();
            form();
          },
        }, `${KIND_TEXT[shape.kind]} ${shape.name}`)),
      ),
    );
    const add = (kind) => () => {
      selected = { kind, name: uniqueName(kind), normalised: true, points: [] };
      shapes.push(selected);
      changed();
      form();
    };
    const parts = [
      h("h2", {}, "Shapes"),
      list,
      h("div", { class: "row" },
        h("button", { type: "button", id: "new-zone", onclick: add("zone") }, "New zone"),
        h("button", { type: "button", id: "new-line", onclick: add("line") }, "New line"),
        h("button", { type: "button", id: "new-mask", onclick: add("mask") }, "New privacy mask")),
    ];
    if (selected) parts.push(shapeForm(selected));
    parts.push(
      h("div", { class: "row" }, h("button", { type: "button", id: "save", class: "primary", onclick: save }, "Save and apply")),
      status,
    );
    clear(panel, parts);
  }

  const pointCount = (shape) => `${shape.points.length} point${shape.points.length === 1 ? "" : "s"}`;
  // Undo the shape's last point, or delete it (and forget it in its apps' settings).
  const editButtons = (shape) =>
    h("div", { class: "row" },
      h("button", { type: "button", onclick: () => { shape.points.pop(); changed(); form(); } }, "Undo point"),
      h("button", {
        type: "button",
        class: "danger",
        onclick: () => {
          shapes.splice(shapes.indexOf(shape), 1);
          replaceIn(shape, null);
          selected = null;
          changed();
          form();
        },
      }, `Delete ${shape.kind === "mask" ? "privacy mask" : shape.kind}`));

  // A privacy mask: its points, undo and delete (no name in the file, no apps).
  function maskForm(shape) {
    return h(
      "fieldset",
      { class: "shape" },
      h("legend", {}, `Privacy mask ${shape.name}`),
      h("p", { class: "meta" }, `${pointCount(shape)}: masked for everyone on everything served, and left out of motion and detection.`),
      editButtons(shape),
    );
  }

  function shapeForm(shape) {
    if (shape.kind === "mask") return maskForm(shape);
    const name = h("input", { id: "shape-name", value: shape.name, required: true, pattern: "[A-Za-z0-9_\\-]+" });
    name.addEventListener("change", () => {
      const old = shape.name;
      const value = name.value.trim();
      if (!value || shapes.some((s) => s !== shape && s.kind === shape.kind && s.name === value)) {
        showError(`a ${shape.kind} called ${JSON.stringify(value)} exists already`);
        name.value = old;
        return;
      }
      showError("");
      replaceIn(shape, value);
      shape.name = value;
      changed();
      form();
    });
    const choices = typesFor(shape.kind);
    const type = h("select", { id: "add-app-type" }, choices.map((t) => h("option", { value: t }, t)));
    const classes = h("input", { id: "add-app-classes", value: "person", "aria-describedby": "classes-help" });
    const attached = appsOf(shape).map((app) =>
      h("li", {}, `${app.name} (${app.type}, ${fieldsOf(app.type, "class").flatMap((ref) => names(app, ref)).join(", ") || "all"}) `,
        h("button", {
          type: "button",
          class: "link",
          onclick: () => {
            apps = apps.filter((a) => a !== app);
            changed();
            form();
          },
        }, "remove")),
    );
    return h(
      "fieldset",
      { class: "shape" },
      h("legend", {}, `${shape.kind === "zone" ? "Zone" : "Line"} ${shape.name}`),
      h("label", { for: "shape-name" }, "Name"),
      name,
      h("p", { class: "meta" }, `${pointCount(shape)}${shape.kind === "line" ? " (a line has 2: from start to end; crossing left to right counts as in)" : ""}`),
      editButtons(shape),
      h("h3", {}, "Apps watching it"),
      attached.length ? h("ul", {}, attached) : h("p", { class: "meta" }, "none"),
      h("label", { for: "add-app-type" }, "Add an app"),
      type,
      h("label", { for: "add-app-classes" }, "Classes"),
      classes,
      h("small", { id: "classes-help" }, "COCO class names, comma separated (person, car, bicycle, …)."),
      h("button", {
        type: "button",
        id: "add-app",
        onclick: () => {
          const wanted = classes.value.split(",").map((c) => c.trim()).filter(Boolean);
          let appName = `${shape.name}_${type.value}`;
          for (let n = 2; apps.some((a) => (a.name || a.type) === appName); n += 1) appName = `${shape.name}_${type.value}${n}`;
          const [target] = fieldsOf(type.value, shape.kind);
          const [classRef] = fieldsOf(type.value, "class");
          const settings = { [target.field]: target.many ? [shape.name] : shape.name };
          if (wanted.length && classRef) settings[classRef.field] = classRef.many ? wanted : wanted[0];
          apps.push({ type: type.value, name: appName, settings, enabled: true });
          changed();
          form();
        },
      }, "Add app"),
    );
  }

  const saved = (shape) => shape.points.map(([x, y]) => (shape.normalised ? [round(x / W, 4), round(y / H, 4)] : [round(x, 1), round(y, 1)]));

  async function save() {
    showError("");
    const body = { zones: {}, lines: {}, apps, static_masks: [], revision };
    for (const shape of shapes) {
      const points = saved(shape);
      if (shape.kind === "zone") body.zones[shape.name] = { points };
      else if (shape.kind === "mask") body.static_masks.push({ points });
      else body.lines[shape.name] = { start: points[0], end: points[1] };
    }
    status.textContent = "Saving…";
    try {
      const out = await api(`${base}/config`, { method: "PUT", body });
      revision = out.revision;
      dirty = false;
      const applied = out.applied || { result: "saved" };
      status.textContent = {
        live: "Saved and applied (no restart).",
        restarted: "Saved; the camera restarted to apply it.",
        pending: "Saved; the camera applies it when it is back.",
        failed: `Saved, but not applied: ${applied.error}`,
        unchanged: "Saved (nothing changed).",
        saved: "Saved.",
      }[applied.result];
      status.dataset.saved = applied.result;
    } catch (error) {
      status.textContent = "Not saved.";
      showError(error.message);
    }
  }

  window.addEventListener("beforeunload", (event) => {
    if (dirty) event.preventDefault();
  });
  draw();
  form();
}
