// The annotation workspace: one audio file in one annotation set.
//
// The waveform is drawn from the server's precomputed peaks and the audio streams from the content
// endpoint with Range requests, so a 2-hour file opens without the browser downloading or decoding it.
// Regions are the set's annotations; every edit is saved through the REST API by AnnotationStore.
import HoverPlugin from "../vendor/wavesurfer.js/plugins/hover.esm.js";
import RegionsPlugin from "../vendor/wavesurfer.js/plugins/regions.esm.js";
import { AnnotationStore } from "./annotation-store.js";
import { Spectrogram } from "./spectrogram.js";
import { createWaveform, formatTime, loadPeaks, tint } from "./waveform.js";

const config = JSON.parse(document.getElementById("workspace-config").textContent);
const audioUrl = `/api/v1/datasets/${config.datasetId}/audio/${config.audioId}`;
const setUrl = `/api/v1/datasets/${config.datasetId}/annotation-sets/${config.setId}`;
const NUDGE_MS = 10;
const NUDGE_BIG_MS = 100;
const $ = (id) => document.getElementById(id);

const state = { type: config.types[0]?.name, selected: null, loop: false, pxPerSec: 0, fitPxPerSec: 0 };
const colors = Object.fromEntries(config.types.map((t) => [t.name, t.color]));
const store = new AnnotationStore(`${setUrl}/annotations`, config.audioId);
let ws;
let regions;
let spectrogram;
let suppressCreate = false; // regions we add ourselves are not new annotations

async function start() {
  const [peaks] = await Promise.all([loadPeaks(audioUrl, config.durationMs), store.load()]);
  const duration = config.durationMs / 1000;
  regions = RegionsPlugin.create();
  ws = createWaveform({
    base: audioUrl,
    peaks,
    durationMs: config.durationMs,
    height: 160,
    cursorColor: "#d32f2f",
    zoom: { exponentialZooming: true },
    plugins: [regions, HoverPlugin.create({ formatTimeCallback: formatTime, labelSize: 11 })],
  });
  spectrogram = new Spectrogram($("spectrogram"), `${audioUrl}/spectrogram`, config.durationMs);
  wireWaveform();
  wireStore();
  wireControls();
  ws.on("ready", () => {
    state.fitPxPerSec = $("waveform").clientWidth / duration;
    state.pxPerSec = state.fitPxPerSec;
    for (const item of store.list()) addRegion(item);
    renderList();
    if (!config.readOnly) enableDrawing();
    document.body.dataset.workspace = "ready";
    window.relayWorkspaceReadyAt = performance.now();
  });
}

// --- regions ⇄ store -----------------------------------------------------------------------------
function addRegion(item) {
  suppressCreate = true;
  try {
    const region = regions.addRegion({
      id: item.key,
      start: item.start_ms / 1000,
      end: item.end_ms / 1000,
      color: tint(colors[item.type] || "#888888"),
      content: item.type,
      drag: !config.readOnly,
      resize: !config.readOnly,
    });
    region.element?.setAttribute("data-type", item.type);
    return region;
  } finally {
    suppressCreate = false;
  }
}

function regionOf(key) {
  return regions.getRegions().find((r) => r.id === key);
}

function syncRegion(key) {
  const item = store.items.get(key);
  const region = regionOf(key);
  if (!item) {
    region?.remove();
    if (state.selected === key) state.selected = null;
    return;
  }
  if (!region) return addRegion(item);
  const alpha = key === state.selected ? 0.55 : 0.3;
  region.setOptions({ start: item.start_ms / 1000, end: item.end_ms / 1000, color: tint(colors[item.type], alpha), content: item.type });
  region.element?.setAttribute("data-type", item.type);
}

let disableDrawing = () => {};
function enableDrawing() {
  disableDrawing();
  disableDrawing = regions.enableDragSelection({ color: tint(colors[state.type]) });
}

function wireWaveform() {
  regions.on("region-created", (region) => {
    if (suppressCreate) return;
    snapToPointer(region);
    const item = store.create({ type: state.type, ...msOf(region) });
    // The drawn region becomes the annotation's region (same id, type label).
    region.setOptions({ id: item.key, content: item.type });
    region.element?.setAttribute("data-type", item.type);
    select(item.key);
  });
  regions.on("region-updated", (region) => {
    store.update(region.id, msOf(region));
    select(region.id);
  });
  regions.on("region-clicked", (region, event) => {
    event.stopPropagation();
    select(region.id);
    ws.setTime(region.start);
  });
  regions.on("region-out", (region) => {
    if (state.loop && region.id === state.selected && ws.isPlaying()) region.play();
  });
  ws.on("scroll", (startS, endS) => spectrogram.show(startS, endS));
  ws.on("zoom", (pxPerSec) => {
    state.pxPerSec = pxPerSec;
    // Zooming keeps the scroll offset in pixels without a scroll event: work the window out here.
    const startS = ws.getScroll() / pxPerSec;
    spectrogram.show(startS, startS + $("waveform").clientWidth / pxPerSec);
    $("zoom-level").textContent = `${Math.round(pxPerSec)} px/s`;
  });
  ws.on("timeupdate", (t) => ($("time").textContent = formatTime(t)));
  ws.on("play", () => ($("play").textContent = "Pause"));
  ws.on("pause", () => ($("play").textContent = "Play"));
  ws.on("error", () => {
    // A format this browser cannot play: fall back to the normalised 16 kHz WAV.
    const media = ws.getMediaElement();
    if (media && !media.src.includes("variant=canonical")) media.src = `${audioUrl}/content?variant=canonical`;
  });
}

// wavesurfer's drag selection ends a few pixels past the pointer (it seeds the region 5 px wide and
// then adds the drag's movement); we take the times from where the pointer went down and came up.
const pointer = { downX: null, lastX: null };
window.addEventListener("pointerdown", (e) => (pointer.downX = pointer.lastX = e.clientX), true);
window.addEventListener("pointermove", (e) => (pointer.lastX = e.clientX), true);
window.addEventListener("pointerup", (e) => (pointer.lastX = e.clientX), true);

function snapToPointer(region) {
  if (pointer.downX === null) return;
  const rect = ws.getWrapper().getBoundingClientRect();
  const duration = config.durationMs / 1000;
  const at = (x) => Math.min(duration, Math.max(0, ((x - rect.left) / rect.width) * duration));
  const [start, end] = [at(pointer.downX), at(pointer.lastX)].sort((a, b) => a - b);
  if (end - start >= 0.001) region.setOptions({ start, end });
}

function msOf(region) {
  const end = Math.min(config.durationMs, Math.round(region.end * 1000));
  const start = Math.min(Math.max(0, Math.round(region.start * 1000)), end - 1);
  return { start_ms: start, end_ms: end };
}

function wireStore() {
  store.addEventListener("change", ({ detail }) => {
    syncRegion(detail.key);
    renderList();
    if (detail.key === state.selected) select(detail.key);
  });
  store.addEventListener("state", ({ detail }) => {
    const badge = $("save-state");
    badge.dataset.state = detail.state;
    badge.textContent = { saved: "All changes saved", saving: "Saving…", conflict: "Conflict", error: "Not saved" }[detail.state];
    badge.title = detail.message || "";
    $("save-error").textContent = detail.state === "error" ? detail.message : "";
    $("retry").hidden = detail.state !== "error";
  });
  store.onConflict = askAboutConflict;
  window.addEventListener("beforeunload", (event) => {
    if (store.pending > 0 || store.failedSends.length) event.preventDefault();
  });
}

function describeItem(item) {
  return item ? `${item.type} ${formatTime(item.start_ms / 1000)}–${formatTime(item.end_ms / 1000)}` : "deleted";
}

function askAboutConflict({ item, mine, theirs }) {
  const dialog = $("conflict");
  $("conflict-theirs").textContent = describeItem(theirs);
  $("conflict-mine").textContent = mine ? describeItem({ ...(theirs || item), ...mine }) : "delete it";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "mine" ? "mine" : "theirs"), { once: true });
  });
}

// --- the side list ---------------------------------------------------------------------------------
function renderList() {
  const body = $("region-list");
  body.replaceChildren();
  for (const item of store.list()) {
    const row = document.createElement("tr");
    row.dataset.key = item.key;
    row.classList.toggle("selected", item.key === state.selected);
    row.innerHTML = `<td><span class="swatch"></span><span class="type"></span></td><td></td><td></td><td></td>`;
    row.querySelector(".swatch").style.background = colors[item.type];
    row.querySelector(".type").textContent = item.type;
    row.cells[1].textContent = formatTime(item.start_ms / 1000);
    row.cells[2].textContent = formatTime(item.end_ms / 1000);
    row.cells[3].textContent = `${item.end_ms - item.start_ms} ms`;
    row.addEventListener("click", () => {
      select(item.key);
      ws.setScrollTime(Math.max(0, item.start_ms / 1000 - 1));
      ws.setTime(item.start_ms / 1000);
    });
    body.append(row);
  }
  $("region-count").textContent = String(store.items.size);
}

function select(key) {
  state.selected = key;
  // Regions live in wavesurfer's shadow DOM, out of reach of our CSS: mark the selection by colour.
  for (const region of regions.getRegions()) {
    const item = store.items.get(region.id);
    if (item) region.setOptions({ color: tint(colors[item.type], region.id === key ? 0.55 : 0.3) });
  }
  for (const row of $("region-list").rows) row.classList.toggle("selected", row.dataset.key === key);
  const item = store.items.get(key);
  $("selection").textContent = item ? describeItem(item) : "none";
}

// --- controls and shortcuts ----------------------------------------------------------------------------
function pickType(name) {
  if (!colors[name]) return;
  state.type = name;
  for (const button of document.querySelectorAll("[data-pick-type]")) {
    button.classList.toggle("active", button.dataset.pickType === name);
  }
  if (config.readOnly) return;
  // A clip class labels whole files (or segments, drawn like artifacts): one click for the file.
  const isClass = kindOf(name) === "class";
  $("label-file").hidden = !isClass;
  $("label-file-class").textContent = isClass ? name : "";
  enableDrawing();
  if (state.selected && store.items.has(state.selected)) store.update(state.selected, { type: name });
}

function kindOf(name) {
  return config.types.find((t) => t.name === name)?.kind || "event";
}

function labelWholeFile() {
  if (config.readOnly || kindOf(state.type) !== "class") return;
  const item = store.create({ type: state.type, start_ms: 0, end_ms: config.durationMs });
  select(item.key);
}

function nudge(side, deltaMs) {
  const item = store.items.get(state.selected);
  if (!item || config.readOnly) return;
  const next = { start_ms: item.start_ms, end_ms: item.end_ms };
  next[side] = Math.max(0, Math.min(config.durationMs, next[side] + deltaMs));
  if (next.start_ms < next.end_ms) store.update(item.key, next);
}

function zoomBy(factor) {
  const target = Math.max(state.fitPxPerSec, Math.min(4000, (state.pxPerSec || state.fitPxPerSec) * factor));
  ws.zoom(target);
}

function playSelected() {
  const region = regionOf(state.selected);
  if (region) region.play(true);
}

function removeSelected() {
  if (!state.selected || config.readOnly) return;
  const key = state.selected;
  state.selected = null;
  store.remove(key);
  select(null);
}

function selectNeighbour(step) {
  const list = store.list();
  if (!list.length) return;
  const index = list.findIndex((item) => item.key === state.selected);
  const next = list[(index + step + list.length) % list.length];
  select(next.key);
  ws.setScrollTime(Math.max(0, next.start_ms / 1000 - 1));
  ws.setTime(next.start_ms / 1000);
}

async function go(url) {
  if (!url) return;
  await store.idle();
  window.location.href = url;
}

function toggleSpectrogram() {
  const on = $("spectrogram").hidden;
  spectrogram.setVisible(on);
  $("toggle-spectrogram").classList.toggle("active", on);
}

function toggleLoop() {
  state.loop = !state.loop;
  $("loop").checked = state.loop;
}

const KEYS = {
  " ": () => ws.playPause(),
  Delete: removeSelected,
  Backspace: removeSelected,
  Escape: () => select(null),
  "[": () => nudge("start_ms", -NUDGE_MS),
  "]": () => nudge("start_ms", NUDGE_MS),
  "{": () => nudge("start_ms", -NUDGE_BIG_MS),
  "}": () => nudge("start_ms", NUDGE_BIG_MS),
  ",": () => nudge("end_ms", -NUDGE_MS),
  ".": () => nudge("end_ms", NUDGE_MS),
  "<": () => nudge("end_ms", -NUDGE_BIG_MS),
  ">": () => nudge("end_ms", NUDGE_BIG_MS),
  "+": () => zoomBy(2),
  "=": () => zoomBy(2),
  "-": () => zoomBy(0.5),
  0: () => ws.zoom(state.fitPxPerSec),
  r: playSelected,
  l: toggleLoop,
  s: toggleSpectrogram,
  w: labelWholeFile,
  j: () => selectNeighbour(1),
  k: () => selectNeighbour(-1),
  n: () => go(config.nextUrl),
  p: () => go(config.prevUrl),
  ArrowLeft: () => ws.skip(-1),
  ArrowRight: () => ws.skip(1),
  "?": () => $("help").showModal(),
};

function onKey(event) {
  if (event.target.closest("input, select, textarea") || document.querySelector("dialog[open]")) return;
  const mod = event.ctrlKey || event.metaKey;
  let action = null;
  if (mod && event.key.toLowerCase() === "z") action = event.shiftKey ? () => store.redo() : () => store.undo();
  else if (mod && event.key.toLowerCase() === "y") action = () => store.redo();
  else if (!mod && !event.altKey && /^[1-9]$/.test(event.key)) action = () => pickType(config.types[Number(event.key) - 1]?.name);
  else if (!mod && !event.altKey) action = KEYS[event.key];
  if (!action) return;
  event.preventDefault();
  action();
}

function wireControls() {
  document.addEventListener("keydown", onKey);
  for (const button of document.querySelectorAll("[data-pick-type]")) {
    button.addEventListener("click", () => pickType(button.dataset.pickType));
  }
  $("play").addEventListener("click", () => ws.playPause());
  $("play-region").addEventListener("click", playSelected);
  $("loop").addEventListener("change", (e) => (state.loop = e.target.checked));
  $("speed").addEventListener("change", (e) => ws.setPlaybackRate(Number(e.target.value), true));
  $("zoom-in").addEventListener("click", () => zoomBy(2));
  $("zoom-out").addEventListener("click", () => zoomBy(0.5));
  $("toggle-spectrogram").addEventListener("click", toggleSpectrogram);
  $("undo").addEventListener("click", () => store.undo());
  $("redo").addEventListener("click", () => store.redo());
  $("delete").addEventListener("click", removeSelected);
  $("label-file").addEventListener("click", labelWholeFile);
  $("retry").addEventListener("click", () => store.retry());
  $("show-help").addEventListener("click", () => $("help").showModal());
  pickType(state.type);
}

start().catch((error) => {
  $("save-error").textContent = `The workspace could not start: ${error.message}`;
  document.body.dataset.workspace = "failed";
});
