// A small form renderer for app settings from their JSON Schema (pydantic's output): strings,
// numbers, integers, booleans, enums and arrays of strings get an input each; anything else
// (objects, arrays of objects) is edited as JSON. `read()` returns the values set, leaving out
// empty fields and defaults not written before, so the site file says only what was chosen.
import { h } from "./dom.js";

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

export function schemaForm(schema, values, idPrefix) {
  const fields = [];
  const readers = {};
  const defaults = {};
  const required = new Set(schema.required || []);
  for (const [key, raw] of Object.entries(schema.properties || {})) {
    const s = resolve(raw, schema);
    const k = kind(s, schema);
    const id = `${idPrefix}-${key}`;
    const value = values[key] !== undefined ? values[key] : s.default;
    defaults[key] = JSON.stringify(s.default);
    let input;
    if (k === "boolean") {
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
    const help = s.description ? h("small", {}, s.description) : null;
    fields.push(h("div", { class: k === "boolean" ? "field check" : "field" },
      h("label", { for: id }, s.title || key, required.has(key) ? " *" : ""), input, help));
  }
  return {
    element: h("div", { class: "schema-form" }, fields),
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
