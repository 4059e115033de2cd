// /cameras/{id}/zones: the zone, line and static privacy mask editor, drawn over the
// camera's current frame. Privacy masks (the camera's `privacy.static` polygons) are masked
// for everyone on everything served and left out of motion and detection; they have no name
// in the site file and no apps.
//
// An SVG overlay whose viewBox is the frame size lies exactly on the image, so its user units
// are frame pixels whatever size the image is shown at. A new shape (or "Add points") starts
// drawing: every click on the frame then adds a point to that shape, even over another shape,
// until "Finish" (a line finishes at its second point). Otherwise a click selects the shape
// under it; a selected shape's points are dragged or moved with the keyboard. Each shape has
// its own hue; zones are filled, lines are arrows, privacy masks are dark and dashed.
// The site config takes normalised (0..1) or pixel coordinates: new shapes are saved
// normalised, shapes read in pixels stay in pixels.
// Names are checked as the server checks them (its JSON Schema's pattern) and shapes for their
// points before saving. Saving PUTs the whole scene (zones, lines, apps, masks) to
// /api/cameras/{id}/config; the server validates it and applies it without a restart; its
// one-line error, about a key path, is told in the editor's words.
import { api } from "../api.js";
import { clear, h, showError } from "../dom.js";
import { nameRule, references } from "../schemaform.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, String(v));
  return element;
}

const round = (value, digits) => Number(value.toFixed(digits));
const KIND_TEXT = { zone: "zone", line: "line", mask: "privacy" };
const KIND_WORD = { zone: "zone", line: "line", mask: "privacy mask" };
const MIN_POINTS = { zone: 3, line: 2, mask: 3 };
const capital = (text) => text[0].toUpperCase() + text.slice(1);
const shapeTitle = (shape) => `${capital(KIND_WORD[shape.kind])} ${shape.name}`;
const pointsText = (n) => `${n} point${n === 1 ? "" : "s"}`;
// Hues a golden angle apart: neighbours always differ, however many shapes there are.
const hue = (n) => Math.round((n * 137.508) % 360);

// What is wrong with a shape's points before saving, in plain words (or null).
function pointsProblem(shape) {
  const need = MIN_POINTS[shape.kind];
  const has = shape.points.length;
  if (shape.kind === "line" ? has === need : has >= need) return null;
  return `${shapeTitle(shape)}: a ${KIND_WORD[shape.kind]} needs ${shape.kind === "line" ? "" : "at least "}${pointsText(need)} (it has ${has}).`;
}

// The server's one-line refusal names a key path (`lines.gate.end: required key is missing`,
// `zones['x'] (key): must not be empty`, `static_masks[0].points: polygon needs …`,
// `apps[2].settings.zone: …`): told instead about the shape or app the editor shows.
export function plainError(message, shapes, apps) {
  const say = (subject, detail) => `${subject}: ${detail}`;
  for (const shape of shapes) {
    const section = shape.kind === "mask" ? "static_masks" : `${shape.kind}s`;
    const index = shapes.filter((s) => s.kind === "mask").indexOf(shape);
    const paths = shape.kind === "mask"
      ? [`${section}[${index}].points: `]
      : [`${section}.${shape.name}.`, `${section}.${shape.name} (key): `, `${section}[${JSON.stringify(shape.name)}] (key): `, `${section}['${shape.name}'] (key): `];
    for (const path of paths) {
      const at = message.indexOf(path);
      if (at < 0) continue;
      let detail = message.slice(at + path.length).replace(/^\w+: /, "");
      if (path.endsWith("(key): ")) return say(`${capital(KIND_WORD[shape.kind])} name ${JSON.stringify(shape.name)}`, detail);
      if (/required key is missing/.test(detail)) return pointsProblem(shape) || say(shapeTitle(shape), "a line needs 2 points.");
      detail = detail.replace(/^polygon/, `a ${KIND_WORD[shape.kind]}`);
      return say(shapeTitle(shape), detail);
    }
  }
  const app = /apps\[(\d+)\](?:\.settings)?\.?([^:]*): (.*)$/.exec(message);
  if (app && apps[Number(app[1])]) {
    const { name, type } = apps[Number(app[1])];
    return say(`App ${name || type}${app[2] ? `, setting ${app[2]}` : ""}`, app[3]);
  }
  return message;
}

// Every app type's references (GET /api/apps).
async function appReferences() {
  return Object.fromEntries((await api("/api/apps")).map((app) => [app.id, references(app.settings_schema)]));
}

export async function render(root, context) {
  const base = `/api/cameras/${encodeURIComponent(context.camera)}`;
  const [config, refs, names] = await Promise.all([api(`${base}/config`), appReferences(), nameRule()]);
  const fieldsOf = (type, kind) => refs[type]?.[kind] || [];
  const typesFor = (kind) => Object.keys(refs).filter((type) => fieldsOf(type, kind).length);
  const image = h("img", { id: "frame", alt: "The camera's current frame", src: `${base}/frame.jpg?t=${Date.now()}` });
  await new Promise((resolve) => {
    image.addEventListener("load", resolve, { once: true });
    image.addEventListener("error", resolve, { once: true });
  });
  if (!image.naturalWidth) throw new Error("No frame from this camera yet: the editor needs one to draw on.");
  const [W, H] = config.frame_size || [image.naturalWidth, image.naturalHeight];

  // The editable scene: shapes in frame pixels, with the unit they are saved in and their hue.
  let hues = 0;
  const toPx = (points) => {
    const normalised = points.flat().every((c) => Math.abs(c) <= 1);
    return { normalised, hue: hue(hues++), points: points.map(([x, y]) => (normalised ? [x * W, y * H] : [x, y])) };
  };
  const shapes = [];
  for (const [name, zone] of Object.entries(config.zones || {})) {
    shapes.push({ kind: "zone", name, ground: zone.ground || null, ...toPx(zone.points) });
  }
  for (const [name, line] of Object.entries(config.lines || {})) {
    shapes.push({ kind: "line", name, ...toPx([line.start, line.end]) });
  }
  (config.static_masks || []).forEach((mask, i) => shapes.push({ kind: "mask", name: `mask${i + 1}`, ...toPx(mask.points) }));
  let apps = config.apps.map((a) => ({ ...a, settings: { ...a.settings } }));
  let revision = config.revision; // a save is refused (409) if someone changed the file since
  let selected = null;
  let drawing = null; // the shape every click on the frame adds a point to
  let focused = -1; // the point that keeps the keyboard focus across a redraw
  let dirty = false;

  const overlay = svg("svg", { id: "overlay", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "Zones, lines and privacy masks" });
  const stage = h("div", { class: "stage", id: "stage" }, image, overlay);
  const panel = h("div", { class: "panel" });
  const status = h("p", { id: "save-status", role: "status" });
  // The selected shape's points, counted as they are clicked.
  const count = h("p", { id: "point-count", class: "meta", "aria-live": "polite" });
  root.append(
    h("p", { class: "meta" }, "Create a zone, line or privacy mask, then click on the frame to add its points (clicks go to the shape being drawn, even over another one); Finish when done. Click a shape to select it; drag a point to move it."),
    h("div", { class: "editor" }, stage, panel),
  );

  const framePoint = (event) => {
    const rect = overlay.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * W;
    const y = ((event.clientY - rect.top) / rect.height) * H;
    return [Math.min(Math.max(x, 0), W), Math.min(Math.max(y, 0), H)];
  };
  const countText = () => {
    if (!selected) return "";
    const need = pointsProblem(selected) ? ` · a ${KIND_WORD[selected.kind]} needs ${selected.kind === "line" ? "" : "at least "}${MIN_POINTS[selected.kind]}` : "";
    return `${pointsText(selected.points.length)}${need}${selected === drawing ? " · drawing: click on the frame to add a point" : ""}`;
  };
  const changed = () => {
    dirty = true;
    status.textContent = "Unsaved changes.";
    draw();
  };
  const select = (shape, draws = false) => {
    selected = shape;
    drawing = draws ? shape : null;
    draw();
    form();
  };

  function draw() {
    clear(overlay);
    overlay.classList.toggle("drawing", Boolean(drawing));
    count.textContent = countText();
    const keepFocus = focused;
    focused = -1;
    const r = Math.max(W, H) / 120;
    const defs = svg("defs");
    overlay.append(defs);
    shapes.forEach((shape, n) => {
      const isSelected = shape === selected;
      const colour = `hsl(${shape.hue} 90% 55%)`;
      const cls = `${shape.kind}${isSelected ? " selected" : ""}${shape === drawing ? " drawn" : ""}`;
      const pts = shape.points.map((p) => p.join(",")).join(" ");
      const body = shape.kind === "line" ? svg("polyline", { points: pts, class: cls }) : svg("polygon", { points: pts, class: cls });
      body.style.stroke = colour;
      if (shape.kind === "zone") body.style.fill = `hsl(${shape.hue} 90% 55% / ${isSelected ? 0.3 : 0.18})`;
      body.style.strokeWidth = `${isSelected ? r : r / 2}px`;
      body.dataset.name = shape.name;
      if (shape.kind === "line") {
        // An arrow at a line's end, in its hue: crossing it left to right of start→end is "in".
        const marker = svg("marker", { id: `arrow${n}`, viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 5, markerHeight: 5, orient: "auto-start-reverse" });
        marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: colour }));
        defs.append(marker);
        body.setAttribute("marker-end", `url(#arrow${n})`);
      }
      body.addEventListener("pointerdown", (event) => {
        if (drawing || selected === shape) return; // the click adds a point to the drawn shape
        event.stopPropagation();
        select(shape);
      });
      overlay.append(body);
      if (shape.points.length) {
        const [x, y] = shape.points[0];
        const label = svg("text", { x, y: y - r * 1.5, class: "label", "font-size": r * 3 });
        label.style.fill = colour;
        label.textContent = shape.name;
        overlay.append(label);
      }
      if (!isSelected) return;
      shape.points.forEach((point, i) => {
        const handle = svg("circle", {
          cx: point[0], cy: point[1], r, class: "handle", "data-index": i,
          tabindex: 0, role: "button", "aria-label": `Point ${i + 1} of ${KIND_TEXT[shape.kind]} ${shape.name}: arrow keys move it, Delete removes it`,
        });
        handle.style.stroke = colour;
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
          event.stopPropagation();
          focused = Math.min(i, shape.points.length - 1);
          changed();
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
    });
  }

  overlay.addEventListener("pointerdown", (event) => {
    if (!drawing) return;
    drawing.points.push(framePoint(event));
    if (drawing.kind === "line" && drawing.points.length >= MIN_POINTS.line) select(drawing); // done
    changed();
  });
  // Enter or Escape finish the shape being drawn.
  document.addEventListener("keydown", (event) => {
    if (drawing && (event.key === "Enter" || event.key === "Escape") && !event.target.closest?.("input, select, textarea, button")) {
      event.preventDefault();
      select(drawing);
    }
  });

  const uniqueName = (prefix) => {
    let n = 1;
    while (shapes.some((s) => s.name === `${prefix}${n}`)) n += 1;
    return `${prefix}${n}`;
  };
  const settingNames = (app, ref) => [].concat(app.settings[ref.field] ?? []);
  const watches = (app, shape) => fieldsOf(app.type, shape.kind).some((ref) => settingNames(app, ref).includes(shape.name));
  const appsOf = (shape) => apps.filter((a) => watches(a, shape));
  // Rename (`to` a name) or forget (`to` null) the shape in its apps' settings; an app left
  // without it (a single name, or an emptied list) is removed.
  const replaceIn = (shape, to) => {
    for (const app of appsOf(shape)) {
      for (const ref of fieldsOf(app.type, shape.kind).filter((r) => settingNames(app, r).includes(shape.name))) {
        const kept = settingNames(app, ref).map((n) => (n === shape.name ? to : n)).filter((n) => n !== null);
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
          onclick: () => select(shape),
        }, h("span", { class: `swatch ${shape.kind}`, style: `--hue: ${shape.hue}`, "aria-hidden": "true" }), `${KIND_TEXT[shape.kind]} ${shape.name}`)),
      ),
    );
    const add = (kind) => () => {
      const shape = { kind, name: uniqueName(kind), normalised: true, hue: hue(hues++), points: [] };
      shapes.push(shape);
      select(shape, true);
      changed();
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

  // Draw (more points) or finish; undo the shape's last point; delete it (and forget it in
  // its apps' settings).
  const editButtons = (shape) =>
    h("div", { class: "row" },
      shape === drawing
        ? h("button", { type: "button", id: "finish-shape", class: "primary", onclick: () => select(shape) }, "Finish")
        : h("button", {
          type: "button",
          id: "add-points",
          disabled: shape.kind === "line" && shape.points.length >= MIN_POINTS.line,
          onclick: () => select(shape, true),
        }, "Add points"),
      h("button", { type: "button", onclick: () => { shape.points.pop(); changed(); form(); } }, "Undo point"),
      h("button", {
        type: "button",
        class: "danger",
        onclick: () => {
          shapes.splice(shapes.indexOf(shape), 1);
          replaceIn(shape, null);
          select(null);
          changed();
        },
      }, `Delete ${KIND_WORD[shape.kind]}`));

  // A privacy mask: its points, undo and delete (no name in the file, no apps).
  function maskForm(shape) {
    return h(
      "fieldset",
      { class: "shape" },
      h("legend", {}, `Privacy mask ${shape.name}`),
      count,
      h("p", { class: "meta" }, "Masked for everyone on everything served, and left out of motion and detection."),
      editButtons(shape),
    );
  }

  // A four-point zone measured on the ground (metres) gives real distances and speeds.
  function calibrationForm(shape) {
    if (shape.points.length !== 4) {
      return h("p", { class: "meta", id: "calibration-help" }, "A zone of exactly 4 points can be calibrated in metres for speeds.");
    }
    const ground = shape.ground || [[0, 0], [0, 0], [0, 0], [0, 0]];
    const inputs = ground.map((corner, i) => corner.map((value, axis) => h("input", {
      type: "number", step: "0.01", value, id: `ground-${i}-${axis}`, "aria-label": `corner ${i + 1} ${axis ? "y" : "x"} in metres`,
      onchange: (event) => {
        const next = (shape.ground || ground).map((c) => [...c]);
        next[i][axis] = Number(event.target.value);
        shape.ground = next;
        changed();
      },
    })));
    return h("fieldset", { class: "calibration" },
      h("legend", {}, "Ground calibration (metres)"),
      h("p", { class: "meta" }, "Each corner, in the order drawn, measured on the ground: for speeds and the speeding app."),
      ...inputs.map((pair, i) => h("div", { class: "corner" }, h("span", {}, `Corner ${i + 1}`), ...pair)),
      shape.ground ? h("button", { type: "button", class: "link", id: "calibration-clear", onclick: () => { shape.ground = null; changed(); form(); } }, "not calibrated") : null,
    );
  }

  function shapeForm(shape) {
    if (shape.kind === "mask") return maskForm(shape);
    const name = h("input", { id: "shape-name", value: shape.name, required: true, pattern: names.pattern, "aria-describedby": "name-problem" });
    const nameProblem = h("small", { id: "name-problem", class: "problem", "aria-live": "polite" });
    // Why the typed name would be refused, as it is typed: the server's rule, or a taken name.
    const problemOf = (value) => {
      const ok = names.check(value);
      if (ok !== true) return `${JSON.stringify(value)}: ${ok}.`;
      if (shapes.some((s) => s !== shape && s.kind === shape.kind && s.name === value)) return `a ${shape.kind} called ${JSON.stringify(value)} exists already.`;
      return "";
    };
    name.addEventListener("input", () => {
      nameProblem.textContent = problemOf(name.value);
      name.setAttribute("aria-invalid", String(Boolean(nameProblem.textContent)));
    });
    name.addEventListener("change", () => {
      const problem = problemOf(name.value);
      if (problem) {
        showError(`${capital(KIND_WORD[shape.kind])} name ${problem}`);
        name.value = shape.name; // the shape keeps its valid name
        return;
      }
      showError("");
      replaceIn(shape, name.value);
      shape.name = name.value;
      changed();
      form();
    });
    const choices = typesFor(shape.kind);
    const type = h("select", { id: "add-app-type" }, choices.map((t) => h("option", { value: t }, t)));
    // The classes the detector finds: an app can watch only those.
    const classes = h("select", { id: "add-app-classes", multiple: true, size: Math.min(6, config.classes.length), "aria-describedby": "classes-help" },
      config.classes.map((c) => h("option", { value: c, selected: c === "person" }, c)));
    const attached = appsOf(shape).map((app) =>
      h("li", {}, `${app.name} (${app.type}, ${fieldsOf(app.type, "class").flatMap((ref) => settingNames(app, ref)).join(", ") || "all"}) `,
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
      h("legend", {}, shapeTitle(shape)),
      h("label", { for: "shape-name" }, "Name"),
      name,
      nameProblem,
      count,
      shape.kind === "line" ? h("p", { class: "meta" }, "A line has 2 points: from start to end; crossing left to right counts as in.") : null,
      shape.kind === "zone" ? calibrationForm(shape) : null,
      editButtons(shape),
      h("h3", {}, "Apps watching it"),
      attached.length ? h("ul", {}, attached) : h("p", { class: "meta" }, "none"),
      h("label", { for: "add-app-type" }, "Add an app"),
      type,
      h("label", { for: "add-app-classes" }, "Classes"),
      classes,
      h("small", { id: "classes-help" }, "The classes the detector finds; none selected: all of them."),
      h("button", {
        type: "button",
        id: "add-app",
        onclick: () => {
          const wanted = [...classes.selectedOptions].map((o) => o.value);
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
    // Refused here, in plain words, what the server would refuse with a key path.
    const problems = shapes.map(pointsProblem).filter(Boolean);
    if (problems.length) {
      status.textContent = "Not saved.";
      showError(problems.join(" "));
      return;
    }
    const body = { zones: {}, lines: {}, apps, static_masks: [], revision };
    for (const shape of shapes) {
      const points = saved(shape);
      if (shape.kind === "zone") body.zones[shape.name] = shape.ground && points.length === 4 ? { points, ground: shape.ground } : { points };
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
        failed: `Saved, but not applied: ${plainError(applied.error || "", shapes, apps)}`,
        unchanged: "Saved (nothing changed).",
        saved: "Saved.",
      }[applied.result];
      status.dataset.saved = applied.result;
    } catch (error) {
      status.textContent = "Not saved.";
      showError(plainError(error.message, shapes, apps));
    }
  }

  window.addEventListener("beforeunload", (event) => {
    if (dirty) event.preventDefault();
  });
  draw();
  form();
}
