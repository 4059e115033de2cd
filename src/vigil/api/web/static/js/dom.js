// Small DOM helpers: elements are built with textContent, never from HTML strings, so data
// from the API (names, attributes) cannot inject markup.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(key, "");
    } else {
      element.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function clear(element, ...children) {
  element.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  return element;
}

// Show one line of error at the top of the page (empty: hide it).
export function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message || "";
  box.hidden = !message;
}

// The site's time zone (the shell's data-time-zone; empty: the browser's): every time the
// pages show, and the date-time fields, are in it.
export const SITE_ZONE = globalThis.document?.body?.dataset.timeZone || undefined;

export function fmtTime(seconds, options = {}) {
  if (seconds === null || seconds === undefined) return "";
  return new Date(seconds * 1000).toLocaleString([], { timeZone: SITE_ZONE, ...options });
}

// Wall-clock fields of `ms` in the site's zone.
function zoneParts(ms) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: SITE_ZONE, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return [get("year"), get("month"), get("day"), get("hour"), get("minute"), get("second")];
}

// How far the site's zone is ahead of UTC at `ms`, in ms.
function zoneOffset(ms) {
  const [y, mo, d, h, mi, s] = zoneParts(ms);
  return Date.UTC(y, mo - 1, d, h, mi, s) - Math.floor(ms / 1000) * 1000;
}

// A duration in its two largest units: "45 s", "2 min 10 s", "3 h 5 min", "2 days 4 h".
export function fmtDuration(seconds) {
  let rest = Math.max(0, Math.round(seconds));
  const units = [["days", 86400], ["h", 3600], ["min", 60], ["s", 1]].map(([name, size]) => {
    const n = Math.floor(rest / size);
    rest -= n * size;
    return n ? `${n} ${name === "days" && n === 1 ? "day" : name}` : "";
  });
  const first = units.findIndex(Boolean);
  return first < 0 ? "0 s" : units.slice(first, first + 2).filter(Boolean).join(" ");
}

export function fmtBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// <input type="datetime-local"> value <-> seconds since the epoch, in the site's zone.
export function toLocalInput(seconds) {
  const pad = (n) => String(n).padStart(2, "0");
  const [y, mo, d, h, mi, s] = zoneParts(seconds * 1000);
  return `${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}`;
}

export function fromLocalInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || "");
  if (!m) return undefined;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let ms = wall - zoneOffset(wall);
  ms = wall - zoneOffset(ms); // again, in case the offset changed in between (DST)
  return ms / 1000;
}

export function table(headers, rows, caption) {
  return h(
    "table",
    {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows),
  );
}

export const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };

export function atLeast(role, wanted) {
  return (ROLE_RANK[role] ?? -1) >= ROLE_RANK[wanted];
}
