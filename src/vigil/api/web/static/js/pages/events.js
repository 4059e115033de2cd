// /events: the review page. Review items (a camera's overlapping events, GET /api/review)
// newest first, each with its severity, span, what was involved and a strip of object crops;
// one click (or Enter / space) plays its footage with pre- and post-roll, "r" marks it
// reviewed (per user), j/k or the arrow keys move between items. The filters are dropdowns
// filled from what exists (GET /api/review/facets) and apply at once; the URL keeps them.
// Opening an item lists its events with their attributes as readable fields. Performance
// marks "review-first-paint" and "review-filter" (first list shown, a filter change shown)
// are there for the browser tests to read.
import { api, query } from "../api.js";
import { atLeast, clear, fmtTime, fromLocalInput, h, showError, toLocalInput } from "../dom.js";

const PAGE = 25;
const EVENTS_SHOWN = 20; // events listed (with their attributes) when an item is opened
const FILTERS = [
  // [query parameter, facet list, label, "all" text]
  ["camera", "cameras", "Camera", "all cameras"],
  ["severity", "severities", "Severity", "alerts and detections"],
  ["app", "apps", "App", "all apps"],
  ["zone", "zones", "Zone / line", "anywhere"],
  ["class_name", "classes", "Class", "all classes"],
  ["type", "types", "Type", "all types"],
];

// "2 min 10 s", "1 h 5 min", "45 s", "0.4 s".
export function fmtSpan(seconds) {
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  const total = Math.round(seconds);
  const [h_, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  if (h_) return m ? `${h_} h ${m} min` : `${h_} h`;
  if (m) return s ? `${m} min ${s} s` : `${m} min`;
  return `${s} s`;
}

const words = (key) => key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
const DURATION = /(^|_)(seconds|duration|dwell|wait|waited|elapsed|age|s)$/;
const TIME = /(^|_)(time|at|since|until|first_seen|last_seen)$/;

// One attribute as text a person reads: durations, times (the site's, as the browser
// shows them), counts with separators, lists joined, yes/no.
export function readableValue(key, value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (DURATION.test(key)) return fmtSpan(value);
    if (TIME.test(key) && value > 1e9) return fmtTime(value);
    return value.toLocaleString(undefined, { maximumFractionDigits: 2 });
  }
  if (Array.isArray(value)) return value.map((v) => readableValue(key, v)).join(", ");
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${words(k)}: ${readableValue(k, v)}`).join("; ");
  }
  return String(value);
}

function attributeRows(attributes) {
  // The box is drawn on the crop; the rest are fields.
  return Object.entries(attributes || {}).filter(([key]) => key !== "box")
    .map(([key, value]) => [h("dt", {}, words(key)), h("dd", {}, readableValue(key, value))]);
}

function itemSpan(item) {
  const span = item.end - item.start;
  return span >= 0.5 ? `${fmtTime(item.start)} · ${fmtSpan(span)}` : fmtTime(item.start);
}

export async function render(root, context) {
  const params = new URLSearchParams(location.search);
  // The first page is asked for with the dropdowns' data, not after them (first paint).
  const asked = Object.fromEntries([...FILTERS.map(([name]) => name), "reviewed", "start", "end"]
    .map((name) => [name, params.get(name) || ""]));
  let firstPage = api("/api/review", { params: { ...asked, limit: PAGE, offset: 0 } });
  firstPage.catch(() => {}); // reported by `load`
  const [cameras, facets] = await Promise.all([api("/api/cameras"), api("/api/review/facets")]);
  const cameraName = Object.fromEntries(cameras.map((c) => [c.id, c.name || c.id]));
  const canPlay = atLeast(context.role, "operator");

  const selects = {};
  const fields = FILTERS.map(([name, facet, label, all]) => {
    const wanted = params.get(name) || "";
    const values = [...new Set([...(facets[facet] || []), ...(wanted ? [wanted] : [])])];
    const select = h("select", { id: `f-${name}`, name },
      h("option", { value: "" }, all),
      values.map((v) => h("option", { value: v, selected: v === wanted }, name === "camera" ? cameraName[v] || v : v)));
    selects[name] = select;
    return h("div", { class: "field" }, h("label", { for: `f-${name}` }, label), select);
  });
  const reviewed = h("select", { id: "f-reviewed", name: "reviewed" },
    [["", "all"], ["false", "to review"], ["true", "reviewed"]].map(([v, text]) =>
      h("option", { value: v, selected: v === (params.get("reviewed") || "") }, text)));
  const since = h("input", { id: "f-since", name: "start", type: "datetime-local", step: 1 });
  const until = h("input", { id: "f-until", name: "end", type: "datetime-local", step: 1 });
  if (params.get("start")) since.value = toLocalInput(Number(params.get("start")));
  if (params.get("end")) until.value = toLocalInput(Number(params.get("end")));
  for (const input of [since, until]) { // the range the items cover
    if (facets.first !== null) input.min = toLocalInput(Math.floor(facets.first));
    if (facets.last !== null) input.max = toLocalInput(Math.ceil(facets.last));
  }
  // A quick range: sets "From" (and clears "To") before the list reloads.
  const when = h("select", { id: "f-when" },
    [["", "any time"], [3600, "last hour"], [86400, "last 24 hours"], [7 * 86400, "last 7 days"]]
      .map(([seconds, text]) => h("option", { value: seconds }, text)));
  when.addEventListener("change", () => {
    since.value = when.value ? toLocalInput(Math.floor(Date.now() / 1000 - Number(when.value))) : "";
    until.value = "";
  });
  const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
  const form = h("form", { class: "filters", id: "review-filters" }, fields,
    field("f-reviewed", "Reviewed", reviewed), field("f-when", "When", when),
    field("f-since", "From", since), field("f-until", "To", until));
  const summary = h("p", { class: "meta", id: "review-summary", "aria-live": "polite" });
  const list = h("div", { id: "review-list", role: "list" });
  const pager = h("div", { class: "row pager" });
  const viewer = h("section", { id: "review-view", "aria-live": "polite" },
    h("p", { class: "meta" }, "Keys: j / k or ↓ / ↑ choose an item, Enter or space plays it, r marks it reviewed."));
  root.append(form, h("div", { class: "review-layout" }, h("div", { class: "review-column" }, summary, list, pager), viewer));

  let offset = 0;
  let items = [];
  let selected = -1;
  let firstPaint = true;
  let loading = 0;

  const filters = () => {
    const out = Object.fromEntries(Object.entries(selects).map(([name, s]) => [name, s.value]));
    out.reviewed = reviewed.value;
    out.start = fromLocalInput(since.value);
    out.end = fromLocalInput(until.value);
    return out;
  };

  const select = (index, { scroll = true } = {}) => {
    if (!items.length) return;
    selected = Math.max(0, Math.min(items.length - 1, index));
    list.querySelectorAll(".review-item").forEach((row, i) => row.setAttribute("aria-selected", String(i === selected)));
    const row = list.children[selected];
    if (scroll && row) row.scrollIntoView({ block: "nearest" });
  };

  const setReviewed = async (item, row) => {
    const method = item.reviewed ? "DELETE" : "POST";
    try {
      const result = await api(`/api/review/${item.id}/reviewed`, { method });
      item.reviewed = result.reviewed;
    } catch (error) {
      showError(error.message);
      return;
    }
    row.classList.toggle("reviewed", item.reviewed);
    const button = row.querySelector(".mark-reviewed");
    button.textContent = item.reviewed ? "Reviewed ✓" : "Mark reviewed";
    button.setAttribute("aria-pressed", String(item.reviewed));
  };

  const open = async (item) => {
    const video = canPlay
      ? h("video", { id: "clip", controls: true, preload: "auto", src: item.clip_url, playsinline: true })
      : h("p", { class: "meta" }, "Playing footage needs the operator role.");
    if (canPlay) video.addEventListener("error", () => showError("This item's footage cannot be played (recording not available?)."));
    const eventsList = h("div", { id: "review-events" }, h("p", { class: "meta" }, "Loading its events…"));
    clear(viewer,
      h("h2", {}, `${item.types.join(", ")} on ${cameraName[item.camera] || item.camera}`),
      video,
      h("dl", { class: "review-facts" },
        [["When", itemSpan(item)], ["Severity", item.severity], ["Apps", item.apps.join(", ")],
         ["Objects", item.classes.join(", ")], ["Zones / lines", item.zones.join(", ")],
         ["Events", item.event_count.toLocaleString()]]
          .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v || "—")])),
      canPlay ? h("p", {}, h("a", { href: item.clip_url, download: "" }, "Download the footage")) : null,
      eventsList);
    if (canPlay) video.play().catch(() => {}); // autoplay may be refused; the controls are there
    const shown = item.events.slice(0, EVENTS_SHOWN);
    const events = await Promise.all(shown.map((id) => api(`/api/events/${id}`).catch(() => null)));
    clear(eventsList,
      h("h3", {}, item.event_count > shown.length ? `First ${shown.length} of ${item.event_count} events` : "Events"),
      events.filter(Boolean).map((event) => h("article", { class: "review-event", dataset: { event: event.id } },
        event.crop_url ? h("img", { class: "crop", src: event.crop_url, alt: `The ${event.class_name || "object"} of this ${event.type}`, loading: "lazy" }) : null,
        h("div", {},
          h("h4", {}, `${event.type}${event.class_name ? ` · ${event.class_name}` : ""}`),
          h("dl", {},
            [["Time", event.end_time && event.end_time > event.start_time + 0.5
              ? `${fmtTime(event.start_time)} · ${fmtSpan(event.end_time - event.start_time)}` : fmtTime(event.start_time)],
             ["App", event.app], ["Zone / line", event.zone || event.line || "—"],
             ["Track", event.track_id ?? "—"]].map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]),
            attributeRows(event.attributes))))));
  };

  const play = (index) => {
    select(index, { scroll: false });
    if (items[selected]) open(items[selected]);
  };

  const row = (item, index) => {
    const strip = item.thumbnails.length
      ? h("div", { class: "strip" }, item.thumbnails.map((src) => h("img", { src, alt: "", loading: "lazy", width: 64, height: 64 })))
      : h("div", { class: "strip empty" }, h("span", { class: "meta" }, "no picture"));
    const article = h("article", {
      class: `review-item ${item.severity}${item.reviewed ? " reviewed" : ""}`,
      role: "listitem", "aria-selected": "false", dataset: { item: item.id },
      onclick: (event) => { if (!event.target.closest("button")) play(index); },
    },
      strip,
      h("div", { class: "summary" },
        h("p", {}, h("span", { class: `badge ${item.severity === "alert" ? "bad" : ""}` }, item.severity), " ",
          h("strong", {}, item.types.join(", ")), " · ", cameraName[item.camera] || item.camera),
        h("p", { class: "meta" }, itemSpan(item)),
        h("p", { class: "meta" }, [item.classes.join(", "), item.zones.join(", "), `${item.event_count} event${item.event_count === 1 ? "" : "s"}`].filter(Boolean).join(" · "))),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "play", onclick: () => play(index) }, "Play"),
        h("button", { type: "button", class: "mark-reviewed", "aria-pressed": String(item.reviewed), onclick: (event) => setReviewed(item, event.target.closest(".review-item")) },
          item.reviewed ? "Reviewed ✓" : "Mark reviewed")));
    return article;
  };

  const load = async () => {
    const mine = ++loading;
    showError("");
    const wanted = filters();
    history.replaceState(null, "", location.pathname + query(wanted));
    let page;
    try {
      page = await (firstPage || api("/api/review", { params: { ...wanted, limit: PAGE, offset } }));
    } catch (error) {
      showError(error.message);
      return;
    } finally {
      firstPage = null;
    }
    if (mine !== loading) return; // a newer filter change is on its way
    items = page.items;
    selected = -1;
    clear(list, items.length ? items.map(row) : h("p", {}, "Nothing to review matches."));
    clear(summary, page.total ? `${page.total.toLocaleString()} item${page.total === 1 ? "" : "s"}` : "");
    const last = Math.min(offset + PAGE, page.total);
    clear(pager,
      h("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "Newer"),
      h("span", {}, page.total ? `${offset + 1}–${last} of ${page.total}` : ""),
      h("button", { type: "button", disabled: last >= page.total, onclick: () => { offset += PAGE; load(); } }, "Older"));
    if (items.length) select(0, { scroll: false });
    requestAnimationFrame(() => {
      if (firstPaint) {
        firstPaint = false;
        performance.mark("review-first-paint");
      } else {
        performance.mark("review-filter-shown");
        performance.measure("review-filter", "review-filter-start", "review-filter-shown");
      }
    });
  };

  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("change", () => {
    performance.mark("review-filter-start");
    offset = 0;
    load();
  });
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea, video") || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if ((key === "Enter" || key === " ") && event.target.closest("button, a")) return; // the control's own
    if (key === "j" || key === "ArrowDown") select(selected + 1);
    else if (key === "k" || key === "ArrowUp") select(selected - 1);
    else if (key === "Enter" || key === " ") play(Math.max(selected, 0));
    else if (key === "r" && items[selected]) setReviewed(items[selected], list.children[selected]);
    else return;
    event.preventDefault();
  });
  await load();
}
