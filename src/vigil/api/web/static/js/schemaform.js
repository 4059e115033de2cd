// A small form renderer for app settings from their JSON Schema (pydantic's output): strings,
// numbers, integers, booleans, enums and arrays of strings get an input each; anything else
// (objects, arrays of objects) is edited as JSON. `read()` returns the values set, leaving out
// empty fields and defaults not written before, so the site file says only what was chosen.
//
// Settings that name a zone, a line or classes (`x-vigil-ref`) are picked from a list, not
// typed: `choices` ({zone, line, class}: names; `sceneChoices(camera)` loads a camera's) or,
// later, `setChoices(choices)` (when the form's camera changes). A name not in the list (a
// setting naming a zone the camera no longer has) stays selected, marked as missing.
import { api } from "./api.js";
import { h } from "./dom.js";

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

// What a camera's settings can name: its zones and lines, and the classes its detector finds
// (asked once per camera and page view: a page of many forms asks once).
const scenes = new Map();
export function sceneChoices(camera) {
  if (!scenes.has(camera)) {
    const config = api(`/api/cameras/${encodeURIComponent(camera)}/config`);
    scenes.set(camera, config.then((c) => ({ zone: Object.keys(c.zones), line: Object.keys(c.lines), class: c.classes }), (error) => {
      scenes.delete(camera); // asked again next time
      throw error;
    }));
  }
  return scenes.get(camera);
}

// The server's rule for names (zones, lines, apps): the `pattern` its JSON Schema gives every
// name, and its wording (read once per page view).
// { pattern, text, check(name) -> true | a sentence }
let rule = null;
export function nameRule() {
  rule ??= api("/openapi.json").then((spec) => {
    const zones = spec.components.schemas.CameraConfigIn.properties.zones;
    const [pattern] = Object.keys(zones.patternProperties);
    const text = `names are ${zones.propertyNames.description}`;
    const expression = new RegExp(pattern, "v"); // as the browser reads an input's `pattern`
    return { pattern, text, check: (name) => expression.test(name) || text };
  });
  return rule;
}

// Fill a picker with `names` (undefined: not known yet; values JSON, as the enum picker's),
// keeping `selected`.
function fillPicker(select, names, selected, optional) {
  const wanted = [].concat(selected ?? []);
  const missing = wanted.filter((v) => !(names || []).includes(v));
  const option = (v, label) => h("option", { value: JSON.stringify(v), selected: wanted.includes(v) }, label);
  select.replaceChildren(
    ...(optional ? [h("option", { value: "" }, "(none)")] : []),
    ...(names || []).map((v) => option(v, String(v))),
    ...missing.map((v) => option(v, names ? `${v} (not on this camera)` : String(v))),
  );
}

// The one non-null branch of an Optional (anyOf [X, {type: "null"}]); refs into $defs resolved.
function resolve(schema, root) {
  let s = schema || {};
  if (s.$ref) s = { ...root.$defs?.[s.$ref.split("/").pop()], ...s, $ref: undefined };
  const branches = s.anyOf || s.oneOf;
  if (branches) {
    const real = branches.filter((b) => b.type !== "null");
    if (real.length === 1) return { ...resolve(real[0], root), title: s.title, description: s.description, default: s.default, nullable: true };
    if (real.every((b) => ["string", "integer"].includes(resolve(b, root).type))) return { ...s, type: "string", mixed: true };
  }
  return s;
}

function kind(s, root) {
  if (s.enum) return "enum";
  if (s.type === "array") {
    const items = resolve(s.items, root);
    if (["string", "integer", "number"].includes(items.type) || items.mixed) return "list";
    return "json";
  }
  if (["string", "number", "integer", "boolean"].includes(s.type)) return s.type;
  return "json";
}

const listItem = (text) => (/^-?\d+$/.test(text) ? Number(text) : text); // class ids are numbers

export function schemaForm(schema, values, idPrefix, choices = {}) {
  const fields = [];
  const readers = {};
  const defaults = {};
  const pickers = []; // [{ select, ref: kind, many, optional }]
  const required = new Set(schema.required || []);
  const refOf = {};
  for (const [ref, list] of Object.entries(references(schema))) for (const { field, many } of list) refOf[field] = { ref, many };
  for (const [key, raw] of Object.entries(schema.properties || {})) {
    const s = resolve(raw, schema);
    const k = kind(s, schema);
    const id = `${idPrefix}-${key}`;
    const value = values[key] !== undefined ? values[key] : s.default;
    defaults[key] = JSON.stringify(s.default);
    let input;
    if (refOf[key]) {
      const { ref, many } = refOf[key];
      const optional = !many && !required.has(key);
      input = h("select", { id, multiple: many, dataset: { ref }, size: many ? 4 : undefined });
      const picked = [].concat(value ?? []); // class ids written in the file stay ids
      pickers.push({ select: input, ref, optional, current: () => readers[key]() });
      fillPicker(input, choices[ref], many ? picked : picked[0], optional);
      readers[key] = () => {
        const chosen = [...input.selectedOptions].filter((o) => o.value !== "").map((o) => JSON.parse(o.value));
        if (!chosen.length) return undefined;
        return many ? chosen : chosen[0];
      };
    } else if (k === "boolean") {
      input = h("input", { id, type: "checkbox", checked: Boolean(value) });
      readers[key] = () => input.checked;
    } else if (k === "enum") {
      input = h("select", { id }, !required.has(key) && s.nullable ? h("option", { value: "" }, "(default)") : null,
        s.enum.map((v) => h("option", { value: JSON.stringify(v), selected: v === value }, String(v))));
      readers[key] = () => (input.value === "" ? undefined : JSON.parse(input.value));
    } else if (k === "list") {
      input = h("input", { id, value: Array.isArray(value) ? value.join(", ") : "", placeholder: "(default)" });
      readers[key] = () => {
        const items = input.value.split(",").map((v) => v.trim()).filter(Boolean).map(listItem);
        return items.length ? items : undefined;
      };
    } else if (k === "number" || k === "integer") {
      input = h("input", { id, type: "number", step: k === "integer" ? 1 : "any", value: value ?? "", min: s.minimum ?? s.exclusiveMinimum, max: s.maximum ?? s.exclusiveMaximum });
      readers[key] = () => (input.value === "" ? undefined : Number(input.value));
    } else if (k === "string") {
      input = h("input", { id, value: value ?? "", placeholder: s.nullable ? "(none)" : "" });
      readers[key] = () => (input.value === "" ? undefined : s.mixed ? listItem(input.value) : input.value);
    } else {
      input = h("textarea", { id, rows: 3 }, value === undefined ? "" : JSON.stringify(value));
      readers[key] = () => {
        if (!input.value.trim()) return undefined;
        try {
          return JSON.parse(input.value);
        } catch {
          throw new Error(`${key}: not valid JSON`);
        }
      };
    }
    const help = s.description || refOf[key]?.many ? h("small", {}, s.description || "None selected: the app's default.") : null;
    fields.push(h("div", { class: k === "boolean" ? "field check" : "field" },
      h("label", { for: id }, s.title || key, required.has(key) ? " *" : ""), input, help));
  }
  return {
    element: h("div", { class: "schema-form" }, fields),
    // The names a camera offers changed (another camera chosen): refill the pickers.
    setChoices(next) {
      for (const picker of pickers) fillPicker(picker.select, next[picker.ref] || [], picker.current(), picker.optional);
    },
    read() {
      const out = {};
      for (const [key, reader] of Object.entries(readers)) {
        const value = reader();
        if (value === undefined) continue;
        if (key in values || JSON.stringify(value) !== defaults[key]) out[key] = value;
      }
      return out;
    },
  };
}
