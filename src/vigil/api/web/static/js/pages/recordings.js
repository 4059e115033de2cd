// /recordings: the recordings of several cameras on one timeline (vis-timeline), one row per
// camera, over any range from a minute to 31 days (the span menu, the wheel or a pinch): the
// recorded footage as spans coloured by what its segments saw (motion, objects; summed by the
// database, GET /api/recordings/timeline), marks of what happened (`loadMarks`), a preview of
// the picture under the pointer (GET /api/recordings/frame.jpg, masked as playback is). A
// click plays that camera from that moment, segment after segment (each one's MP4 is served
// with HTTP ranges, so the player seeks in it). "Select a range", then a drag along a camera's
// row, picks a range to export: the Export button cuts it as a background job (POST
// /api/recordings/exports), shows its progress, then downloads the file; its link
// (GET /api/recordings/export) also works as is, to save the range directly.
import { api } from "../api.js";
import { fmtDuration, fmtTime, fromLocalInput, h, showError, toLocalInput } from "../dom.js";

const SPANS = [["5 min", 300], ["1 h", 3600], ["6 h", 21600], ["1 day", 86400], ["7 days", 604800], ["31 days", 2678400]];
const DEFAULT_SPAN_S = 3600;
const MIN_RANGE_S = 60;
const MAX_RANGE_S = 31 * 86400; // the longest range GET /api/recordings/timeline takes
const PREVIEW_WIDTH = 240; // px of the hover preview
const PREVIEW_STEPS = 300; // previews asked for across the visible range, at most
const PLAYHEAD = "playhead"; // the timeline's marker of the playing moment
const LOAD_DELAY_MS = 250; // after the last zoom or scroll step

// The marks on the timeline: what happened on `cameras` between `start` and `end` (seconds),
// as [{id, camera, start, end, severity, title}]: the review items (a camera's overlapping
// events grouped, alerts apart from detections; GET /api/review), not every raw event.
export async function loadMarks(cameras, start, end) {
  const pages = await Promise.all(cameras.map((camera) =>
    api("/api/review", { params: { camera, start, end, limit: 500 } })));
  return pages.flatMap((page) => page.items.map((item) => ({
    id: item.id,
    camera: item.camera,
    start: item.start,
    end: item.end,
    severity: item.severity,
    title: `${item.severity}: ${item.types.join(", ")}${item.classes.length ? ` · ${item.classes.join(", ")}` : ""}`
      + ` · ${item.event_count} event${item.event_count === 1 ? "" : "s"} · ${fmtTime(item.start)}`,
  })));
}

const params = (pairs) => new URLSearchParams(pairs.map(([k, v]) => [k, String(v)])).toString();

export async function render(root) {
  const cameras = await api("/api/cameras");
  if (!cameras.length) {
    root.append(h("p", {}, "No cameras are configured."));
    return;
  }
  const names = Object.fromEntries(cameras.map((c) => [c.id, c.name]));
  const asked = new URLSearchParams(location.search);
  const wanted = asked.getAll("camera");
  const choices = cameras.map((c) => h("label", { class: "camera-choice" },
    h("input", { type: "checkbox", name: "camera", value: c.id, checked: !wanted.length || wanted.includes(c.id) }), ` ${c.name}`));
  const span = h("select", { id: "r-span" }, SPANS.map(([label, s]) => h("option", { value: s, selected: s === DEFAULT_SPAN_S }, label)));
  const upTo = h("input", { id: "r-end", type: "datetime-local", step: 1, value: toLocalInput(Date.now() / 1000) });
  const selectButton = h("button", { type: "button", id: "r-select", "aria-pressed": "false" }, "Select a range");
  const summary = h("p", { class: "meta", id: "r-summary" });
  const timelineBox = h("div", { id: "timeline" });
  const previewImage = h("img", { alt: "" });
  const previewCaption = h("figcaption", { class: "meta" });
  const preview = h("figure", { id: "preview", class: "timeline-preview", hidden: true }, previewImage, previewCaption);
  const video = h("video", { id: "playback", controls: true, preload: "auto", playsinline: true });
  const playing = h("p", { class: "meta", id: "playing" });
  const exportCamera = h("select", { id: "x-camera" }, cameras.map((c) => h("option", { value: c.id }, c.name)));
  const from = h("input", { id: "x-start", type: "datetime-local", step: 1 });
  const to = h("input", { id: "x-end", type: "datetime-local", step: 1 });
  const exportLink = h("a", { id: "export-link", class: "button", download: "" }, "Export MP4");
  const exportProgress = h("progress", { id: "export-progress", max: 100, value: 0, hidden: true });
  const exportStatus = h("p", { class: "meta", id: "export-status", role: "status" });
  const key = (kind, label) => h("span", {}, h("span", { class: `key ${kind}` }), label);
  root.append(
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); show(); } },
      h("fieldset", { id: "r-cameras", class: "camera-choices" }, h("legend", {}, "Cameras"), ...choices),
      h("div", { class: "field" }, h("label", { for: "r-span" }, "Span"), span),
      h("div", { class: "field" }, h("label", { for: "r-end" }, "Up to"), upTo),
      h("button", { type: "submit" }, "Show"),
      selectButton),
    summary,
    h("div", { class: "timeline-wrap" }, timelineBox, preview),
    h("p", { class: "meta timeline-legend" }, key("seg", "recorded"), key("seg motion", "motion"),
      key("seg objects", "objects"), key("mark alert", "alert"), key("mark", "detection"),
      " · Scroll or pinch to zoom, drag to move; click to play from there."),
    h("div", { class: "recordings-layout" },
      h("section", {}, h("h2", {}, "Playback"), video, playing),
      h("section", {}, h("h2", {}, "Export"),
        h("div", { class: "field" }, h("label", { for: "x-camera" }, "Camera"), exportCamera),
        h("div", { class: "field" }, h("label", { for: "x-start" }, "From"), from),
        h("div", { class: "field" }, h("label", { for: "x-end" }, "To"), to),
        h("p", { class: "meta" }, "Or “Select a range” and drag along a camera's row on the timeline."),
        exportLink, exportProgress, exportStatus)),
  );

  const items = new vis.DataSet();
  const groups = new vis.DataSet();
  const timeline = new vis.Timeline(timelineBox, items, groups, {
    stack: false,
    selectable: false,
    showCurrentTime: true,
    orientation: "top",
    zoomMin: MIN_RANGE_S * 1000,
    zoomMax: MAX_RANGE_S * 1000,
    margin: { item: { vertical: 6 } },
    tooltip: { followMouse: true, overflowMethod: "cap" },
  });
  timeline.addCustomTime(new Date(0), PLAYHEAD);
  const chosen = () => choices.map((c) => c.querySelector("input")).filter((i) => i.checked).map((i) => i.value);

  // ---- the footage and marks of the visible range, loaded again after each zoom or scroll
  let footage = {}; // camera -> its spans in the loaded range
  let marks = new Map(); // item id -> mark
  let selection = null; // {camera, start, end}: the range picked for export
  let loads = 0;
  let loadTimer = null;
  const scheduleLoad = () => {
    clearTimeout(loadTimer);
    loadTimer = setTimeout(load, LOAD_DELAY_MS);
  };
  async function load() {
    const cams = chosen();
    const window_ = timeline.getWindow();
    const start = window_.start.getTime() / 1000;
    const end = Math.min(window_.end.getTime() / 1000, start + MAX_RANGE_S);
    const ticket = ++loads;
    if (!cams.length) {
      footage = {};
      items.clear();
      summary.textContent = "Choose a camera.";
      return;
    }
    const buckets = Math.max(50, Math.min(2000, Math.round(timelineBox.clientWidth / 2)));
    let coverage;
    let found;
    try {
      [coverage, found] = await Promise.all([
        api(`/api/recordings/timeline?${params([...cams.map((c) => ["camera", c]), ["start", start], ["end", end], ["buckets", buckets]])}`),
        loadMarks(cams, start, end),
      ]);
    } catch (error) {
      showError(error.message);
      return;
    }
    if (ticket !== loads) return; // a newer range is on its way
    showError("");
    footage = Object.fromEntries(coverage.cameras.map((c) => [c.camera, c.spans]));
    marks = new Map(found.map((m) => [`mark:${m.id}`, m]));
    items.clear();
    items.add(coverage.cameras.flatMap((c) => c.spans.map((s, i) => ({
      id: `span:${c.camera}:${i}`,
      group: c.camera,
      start: new Date(s.start * 1000),
      end: new Date(s.end * 1000),
      type: "range",
      content: "",
      className: `seg${s.objects ? " objects" : s.motion ? " motion" : ""}`,
      title: `${names[c.camera]}: ${fmtTime(s.start)} to ${fmtTime(s.end)} · ${fmtDuration(s.recorded_s)} recorded${s.objects ? " · objects" : s.motion ? " · motion" : ""}`,
    }))));
    items.add([...marks].map(([id, m]) => ({
      id, group: m.camera, start: new Date(m.start * 1000), type: "point", content: "", className: `mark ${m.severity}`, title: m.title,
    })));
    drawSelection();
    const recorded = coverage.cameras.map((c) => `${names[c.camera]} ${fmtDuration(c.recorded_s)}`).join(", ");
    summary.textContent = `${fmtTime(start)} to ${fmtTime(end)} (${fmtDuration(end - start)}): recorded ${recorded}; ${found.length} events.`;
    Object.assign(timelineBox.dataset, { start, end, bucket: coverage.bucket_s, marks: found.length, loaded: ticket });
    // Nothing to export chosen yet: the last half minute of the first camera's footage.
    const latest = coverage.cameras.find((c) => c.spans.length)?.spans.at(-1);
    if (latest && !from.value && !to.value) {
      exportCamera.value = coverage.cameras.find((c) => c.spans.length).camera;
      from.value = toLocalInput(Math.max(latest.start, latest.end - 30));
      to.value = toLocalInput(latest.end);
      updateExport();
    }
  }
  const setGroups = () => {
    groups.clear();
    groups.add(chosen().map((id, order) => ({ id, content: names[id], order })));
  };
  function show() {
    const end = fromLocalInput(upTo.value) || Date.now() / 1000;
    const length = Number(span.value);
    timeline.setWindow(new Date((end - length) * 1000), new Date(end * 1000), { animation: false });
    scheduleLoad();
  }
  timeline.on("rangechanged", scheduleLoad);
  span.addEventListener("change", show);
  for (const choice of choices) {
    choice.addEventListener("change", () => { setGroups(); scheduleLoad(); });
  }

  // ---- hover: the picture at the moment under the pointer, where that camera recorded
  const recordedAt = (camera, t) => (footage[camera] || []).some((s) => s.start <= t && t < s.end);
  let wantedPreview = null;
  let previewBusy = false;
  const fetchPreview = (url) => {
    previewBusy = true;
    previewImage.dataset.src = url;
    previewImage.src = url;
  };
  const previewDone = () => {
    previewBusy = false;
    if (wantedPreview && wantedPreview !== previewImage.dataset.src) fetchPreview(wantedPreview);
  };
  previewImage.addEventListener("load", () => { previewImage.dataset.loaded = previewImage.dataset.src; previewDone(); });
  previewImage.addEventListener("error", previewDone);
  timeline.on("mouseMove", (props) => {
    if (dragging || !props.group || !props.time || !recordedAt(props.group, props.time.getTime() / 1000)) {
      preview.hidden = true;
      wantedPreview = null;
      return;
    }
    const window_ = timeline.getWindow();
    const step = Math.max(1, (window_.end - window_.start) / 1000 / PREVIEW_STEPS);
    const t = Math.floor(props.time.getTime() / 1000 / step) * step;
    const box = timelineBox.getBoundingClientRect();
    const left = Math.min(Math.max(0, props.pageX - window.scrollX - box.left - PREVIEW_WIDTH / 2), box.width - PREVIEW_WIDTH);
    preview.style.left = `${Math.max(0, left)}px`;
    preview.hidden = false;
    previewCaption.textContent = `${names[props.group]} · ${fmtTime(t)}`;
    wantedPreview = `/api/recordings/frame.jpg?${params([["camera", props.group], ["t", t.toFixed(3)], ["width", PREVIEW_WIDTH]])}`;
    if (!previewBusy && previewImage.dataset.src !== wantedPreview) fetchPreview(wantedPreview);
  });
  timelineBox.addEventListener("mouseleave", () => { preview.hidden = true; wantedPreview = null; });

  // ---- playback: `segments` of the playing camera in time order; `current` the one playing
  let segments = [];
  let current = -1;
  let playingCamera = null;
  const playSegment = (i, offsetS) => {
    current = i;
    const segment = segments[i];
    video.dataset.segment = String(segment.id);
    video.dataset.camera = playingCamera;
    video.src = `/api/recordings/segments/${segment.id}.mp4`;
    if (offsetS > 0) {
      video.addEventListener("loadedmetadata", () => { video.currentTime = offsetS; }, { once: true });
    }
    video.play().catch(() => {}); // autoplay may be refused; the controls are there
  };
  async function playAt(camera, t) {
    showError("");
    let listing;
    try {
      listing = await api("/api/recordings", { params: { camera, start: t, end: t + 3600 } });
    } catch (error) {
      showError(error.message);
      return;
    }
    segments = listing.segments.filter((s) => s.id !== null);
    playingCamera = camera;
    exportCamera.value = camera;
    // The segment holding `t`, else the next one after it.
    const i = segments.findIndex((s) => s.end_time > t);
    if (i < 0) {
      showError("Nothing recorded after that moment.");
      return;
    }
    playSegment(i, Math.max(0, t - segments[i].start_time));
  }
  // The next segment when one ends; at the last one, what was recorded since the listing.
  video.addEventListener("ended", async () => {
    if (current < 0) return;
    if (current + 1 >= segments.length) {
      const last = segments[current];
      const newer = await api("/api/recordings", {
        params: { camera: playingCamera, start: last.end_time, end: Math.max(Date.now() / 1000, last.end_time + 1) },
      }).catch(() => null);
      segments.push(...(newer?.segments || []).filter((s) => s.id !== null && s.start_time > last.start_time));
    }
    if (current + 1 < segments.length) playSegment(current + 1, 0);
    else playing.textContent += " · end of the recording";
  });
  video.addEventListener("timeupdate", () => {
    const segment = segments[current];
    if (!segment) return;
    const t = segment.start_time + video.currentTime;
    playing.textContent = `${names[playingCamera]} · ${fmtTime(t)} · segment ${current + 1} of ${segments.length}`;
    timeline.setCustomTime(new Date(t * 1000), PLAYHEAD);
  });
  video.addEventListener("error", () => showError("That recording cannot be played (deleted by retention?)."));
  timeline.on("click", (props) => {
    if (selecting || !props.group || !props.time || !["item", "background"].includes(props.what)) return;
    const mark = marks.get(props.item);
    playAt(props.group, mark ? mark.start : props.time.getTime() / 1000);
  });

  // ---- a range to export: typed in, or dragged along a camera's row in "Select a range"
  let selecting = false;
  let dragging = null; // {camera, from} while the pointer is down
  const setSelecting = (on) => {
    selecting = on;
    selectButton.setAttribute("aria-pressed", String(on));
    timelineBox.classList.toggle("selecting", on);
    timeline.setOptions({ moveable: !on, zoomable: !on });
  };
  selectButton.addEventListener("click", () => setSelecting(!selecting));
  function drawSelection() {
    if (!selection) return;
    items.update({
      id: "selection", group: selection.camera, type: "background", className: "selection",
      start: new Date(selection.start * 1000), end: new Date(selection.end * 1000),
    });
  }
  const pointerTime = (event) => timeline.getEventProperties(event).time?.getTime() / 1000;
  timelineBox.addEventListener("pointerdown", (event) => {
    if (!selecting) return;
    const props = timeline.getEventProperties(event);
    if (!props.group || !props.time) return;
    event.preventDefault();
    event.stopPropagation();
    timelineBox.setPointerCapture(event.pointerId);
    const t = props.time.getTime() / 1000;
    dragging = { camera: props.group, from: t };
    selection = { camera: props.group, start: t, end: t };
    drawSelection();
  }, { capture: true });
  timelineBox.addEventListener("pointermove", (event) => {
    const t = dragging && pointerTime(event);
    if (!t) return;
    selection = { camera: dragging.camera, start: Math.min(dragging.from, t), end: Math.max(dragging.from, t) };
    drawSelection();
  }, { capture: true });
  timelineBox.addEventListener("pointerup", () => {
    if (!dragging) return;
    dragging = null;
    setSelecting(false);
    if (selection.end - selection.start < 1) return; // a click, not a range
    exportCamera.value = selection.camera;
    from.value = toLocalInput(selection.start);
    to.value = toLocalInput(selection.end);
    updateExport();
    exportStatus.textContent = `Selected ${fmtDuration(selection.end - selection.start)} of ${names[selection.camera]}: press Export MP4.`;
  }, { capture: true });

  const updateExport = () => {
    const start = fromLocalInput(from.value);
    const end = fromLocalInput(to.value);
    if (start && end && end > start) {
      exportLink.href = `/api/recordings/export?${params([["camera", exportCamera.value], ["start", start], ["end", end]])}`;
    } else {
      exportLink.removeAttribute("href"); // no range: nothing to export
    }
  };
  for (const input of [exportCamera, from, to]) input.addEventListener("change", updateExport);
  exportLink.addEventListener("click", (event) => {
    if (!exportLink.getAttribute("href")) return;
    event.preventDefault();
    if (exportLink.dataset.busy) return; // one export at a time from this page
    exportInBackground(exportCamera.value, fromLocalInput(from.value), fromLocalInput(to.value));
  });
  // The export as a job: its progress in the bar, the file downloaded when it is done.
  const exportInBackground = async (cameraId, start, end) => {
    exportLink.dataset.busy = "1";
    exportProgress.hidden = false;
    exportProgress.value = 0;
    exportStatus.textContent = "Export started…";
    try {
      let job = await api("/api/recordings/exports", { method: "POST", body: { camera: cameraId, start, end } });
      while (job.state === "queued" || job.state === "running") {
        exportProgress.value = job.percent;
        exportStatus.textContent = `Exporting… ${job.percent} %`;
        await new Promise((resolve) => setTimeout(resolve, 500));
        job = await api(`/api/recordings/exports/${job.id}`);
      }
      if (job.state !== "done") throw new Error(`export failed: ${job.error}`);
      exportProgress.value = 100;
      exportStatus.textContent = `Export done (${fmtDuration(end - start)} of ${names[cameraId]}): downloading.`;
      const download = h("a", { href: job.file_url, download: "", hidden: true });
      document.body.append(download);
      download.click();
      download.remove();
    } catch (err) {
      exportStatus.textContent = "";
      showError(err.message);
    } finally {
      delete exportLink.dataset.busy;
    }
  };

  // ---- first view: the span up to now, or around ?t= (then played from there)
  setGroups();
  const at = Number(asked.get("t"));
  if (at > 0) {
    const length = Number(span.value);
    timeline.setWindow(new Date((at - length / 2) * 1000), new Date((at + length / 2) * 1000), { animation: false });
    scheduleLoad();
    playAt(chosen()[0] || cameras[0].id, at);
  } else {
    show();
  }
}
