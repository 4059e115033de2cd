// /events: events filtered by camera, app, type, class and time, a page at a time, with their
// snapshots; opening one plays its clip (MP4 with pre- and post-roll) in the browser.
import { api } from "../api.js";
import { clear, fmtTime, fromLocalInput, h, showError, table, toLocalInput } from "../dom.js";

const PAGE = 25;

export async function render(root) {
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
  const form = h("form", { class: "filters", id: "event-filters" },
    field("f-camera", "Camera", camera), field("f-app", "App", app), field("f-type", "Type", type),
    field("f-class", "Class", cls), field("f-since", "From", since), field("f-until", "To", until),
    h("datalist", { id: "event-types" },
      ["line_crossing", "occupancy", "occupancy_alarm", "intrusion", "loitering", "crowding", "wrong_way", "stopped_vehicle"].map((t) => h("option", { value: t }))),
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
    clear(viewer,
      h("h2", {}, `${event.type} on ${event.camera}`),
      video,
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
    const rows = page.items.map((event) =>
      h("tr", { dataset: { event: event.id } },
        h("td", {}, event.snapshot_url ? h("img", { class: "thumb", src: event.snapshot_url, alt: `Snapshot of ${event.type}`, loading: "lazy" }) : ""),
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
