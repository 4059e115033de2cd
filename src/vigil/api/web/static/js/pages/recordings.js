// /recordings: a camera's recorded segments on a timeline (vis-timeline); click a time to play
// from there, segment after segment (each one's MP4 is served with HTTP ranges, so the
// player seeks in it), or export a range as one MP4: the Export button starts a background
// job (POST /api/recordings/exports), shows its progress, then downloads the file; its link
// (GET /api/recordings/export) also works as is, to save the range directly.
import { api, query } from "../api.js";
import { fmtTime, fromLocalInput, h, showError, toLocalInput } from "../dom.js";

const WINDOW_S = 3600;
const PLAYHEAD = "playhead"; // the timeline's marker of the playing moment

export async function render(root) {
  const cameras = await api("/api/cameras");
  if (!cameras.length) {
    root.append(h("p", {}, "No cameras are configured."));
    return;
  }
  const wanted = new URLSearchParams(location.search).get("camera");
  const camera = h("select", { id: "r-camera" }, cameras.map((c) => h("option", { value: c.id, selected: c.id === wanted }, c.name)));
  const day = h("input", { id: "r-end", type: "datetime-local", step: 1, value: toLocalInput(Date.now() / 1000) });
  const from = h("input", { id: "x-start", type: "datetime-local", step: 1 });
  const to = h("input", { id: "x-end", type: "datetime-local", step: 1 });
  const exportLink = h("a", { id: "export-link", class: "button", download: "" }, "Export MP4");
  const exportProgress = h("progress", { id: "export-progress", max: 100, value: 0, hidden: true });
  const exportStatus = h("p", { class: "meta", id: "export-status", role: "status" });
  const summary = h("p", { class: "meta", id: "r-summary" });
  const timelineBox = h("div", { id: "timeline" });
  const video = h("video", { id: "playback", controls: true, preload: "auto", playsinline: true });
  const playing = h("p", { class: "meta", id: "playing" });
  root.append(
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(); } },
      h("div", { class: "field" }, h("label", { for: "r-camera" }, "Camera"), camera),
      h("div", { class: "field" }, h("label", { for: "r-end" }, "Hour up to"), day),
      h("button", { type: "submit" }, "Show")),
    summary, timelineBox,
    h("div", { class: "recordings-layout" },
      h("section", {}, h("h2", {}, "Playback"), video, playing),
      h("section", {}, h("h2", {}, "Export"),
        h("div", { class: "field" }, h("label", { for: "x-start" }, "From"), from),
        h("div", { class: "field" }, h("label", { for: "x-end" }, "To"), to),
        h("p", { class: "meta" }, "Or drag on the timeline: the visible window is the range."),
        exportLink, exportProgress, exportStatus)),
  );

  const items = new vis.DataSet();
  const timeline = new vis.Timeline(timelineBox, items, { stack: false, height: "140px", selectable: false, showCurrentTime: true });
  const updateExport = () => {
    const start = fromLocalInput(from.value);
    const end = fromLocalInput(to.value);
    if (start && end && end > start) {
      exportLink.href = `/api/recordings/export${query({ camera: camera.value, start, end })}`;
    } else {
      exportLink.removeAttribute("href"); // no range: nothing to export
    }
  };
  from.addEventListener("change", updateExport);
  to.addEventListener("change", updateExport);
  exportLink.addEventListener("click", (event) => {
    if (!exportLink.getAttribute("href")) return;
    event.preventDefault();
    if (exportLink.dataset.busy) return; // one export at a time from this page
    exportInBackground(camera.value, fromLocalInput(from.value), fromLocalInput(to.value));
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
      exportStatus.textContent = "Export done: downloading.";
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
  timeline.on("rangechanged", ({ start, end, byUser }) => {
    if (!byUser) return;
    from.value = toLocalInput(start.getTime() / 1000);
    to.value = toLocalInput(end.getTime() / 1000);
    updateExport();
  });

  // Playback: the segments of the listing in time order; `current` is the one playing.
  let segments = [];
  let current = -1;
  const playSegment = (i, offsetS) => {
    current = i;
    const segment = segments[i];
    video.dataset.segment = String(segment.id);
    video.src = `/api/recordings/segments/${segment.id}.mp4`;
    if (offsetS > 0) {
      video.addEventListener("loadedmetadata", () => { video.currentTime = offsetS; }, { once: true });
    }
    video.play().catch(() => {}); // autoplay may be refused; the controls are there
  };
  const playFrom = (t) => {
    showError("");
    // The segment holding `t`, else the next one after it.
    const i = segments.findIndex((s) => s.end_time > t);
    if (i < 0) {
      showError("Nothing recorded after that moment.");
      return;
    }
    playSegment(i, Math.max(0, t - segments[i].start_time));
  };
  // The next segment when one ends; at the last one, what was recorded since the listing.
  video.addEventListener("ended", async () => {
    if (current < 0) return;
    if (current + 1 >= segments.length) {
      const last = segments[current];
      const newer = await api("/api/recordings", {
        params: { camera: camera.value, start: last.end_time, end: Math.max(Date.now() / 1000, last.end_time + 1) },
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
    playing.textContent = `${fmtTime(t)} · segment ${current + 1} of ${segments.length}`;
    timeline.setCustomTime(new Date(t * 1000), PLAYHEAD);
  });
  timeline.addCustomTime(new Date(0), PLAYHEAD);
  video.addEventListener("error", () => showError("That recording cannot be played (deleted by retention?)."));
  timeline.on("click", ({ time }) => {
    if (time) playFrom(time.getTime() / 1000);
  });

  async function load() {
    showError("");
    const end = fromLocalInput(day.value) || Date.now() / 1000;
    const start = end - WINDOW_S;
    let listing;
    try {
      listing = await api("/api/recordings", { params: { camera: camera.value, start, end } });
    } catch (error) {
      showError(error.message);
      return;
    }
    segments = listing.segments.filter((s) => s.id !== null);
    current = -1;
    items.clear();
    items.add(listing.segments.map((s, i) => ({
      id: i,
      start: new Date(s.start_time * 1000),
      end: new Date(s.end_time * 1000),
      className: s.objects ? "seg objects" : s.motion ? "seg motion" : "seg",
      title: `${fmtTime(s.start_time)} · ${s.duration_s.toFixed(1)} s`,
    })));
    // Zoom on the footage (with a margin); the whole hour is a scroll or a pinch away.
    const first = listing.segments.length ? listing.segments[0].start_time : start;
    const shown = Math.max(start, first - Math.max(60, (end - first) * 0.1));
    timeline.setWindow(new Date(shown * 1000), new Date(end * 1000), { animation: false });
    summary.textContent = `${(listing.recorded_s / 60).toFixed(1)} min recorded in this hour, ${listing.segments.length} segments, ${listing.gaps.length} gaps.`;
    const last = listing.segments.at(-1);
    if (last && !from.value) {
      from.value = toLocalInput(Math.max(last.end_time - 30, listing.segments[0].start_time));
      to.value = toLocalInput(last.end_time);
    }
    updateExport();
  }
  camera.addEventListener("change", load);
  await load();
}
