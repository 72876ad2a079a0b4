// One inference file: the waveform with its detections as coloured regions. The threshold, merge
// window and minimum duration are re-applied by the server to the stored frame scores (no model
// run), so moving the slider updates the regions at once; type and confidence filters are local.
import RegionsPlugin from "../vendor/wavesurfer.js/plugins/regions.esm.js";
import { api } from "./api.js";
import { explain } from "./explain.js";
import { qualityScore } from "./inference-stats.js";
import { Transcript } from "./transcript.js";
import { createWaveform, formatTime, loadPeaks, tint } from "./waveform.js";

const config = JSON.parse(document.getElementById("file-config").textContent);
const fileUrl = `/api/v1/inference-jobs/${config.jobId}/files/${config.fileId}`;
const $ = (id) => document.getElementById(id);
const state = { detections: [], shown: [], current: -1, request: null };
let ws;
let regions;
let transcript;
let shownTranscript = null; // what the transcript was last drawn with (no threshold changes it)

function settings() {
  return {
    threshold: $("threshold").value,
    merge_window_ms: $("merge").value || 0,
    min_duration_ms: $("min-duration").value || 0,
  };
}

async function recompute() {
  const query = new URLSearchParams(settings());
  state.request?.abort();
  state.request = new AbortController();
  try {
    const { body } = await api("GET", `${fileUrl}?${query}`, { signal: state.request.signal });
    state.detections = body.detections;
    showTranscript(body);
  } catch (error) {
    if (error.name === "AbortError") return;
    throw error;
  }
  for (const fmt of ["json", "csv", "audacity"]) {
    $(`export-${fmt}`).href = `/api/v1/inference-jobs/${config.jobId}/export?format=${fmt}&file_id=${config.fileId}&${query}`;
  }
  $("quality").textContent = qualityScore(state.detections, config.durationMs);
  applyFilters();
}

function applyFilters() {
  const types = new Set([...document.querySelectorAll("#type-filters input:checked")].map((i) => i.value));
  const minConfidence = Number($("min-confidence").value);
  state.shown = state.detections.filter((d) => types.has(d.artifact_type) && d.confidence >= minConfidence);
  state.current = -1;
  regions.clearRegions();
  state.shown.forEach((d, i) => {
    regions.addRegion({
      id: `d${i}`, start: d.start_ms / 1000, end: d.end_ms / 1000, drag: false, resize: false,
      color: tint(config.colors[d.artifact_type] || "#888888", 0.15 + 0.4 * d.confidence),
      content: `${d.artifact_type} ${Math.round(d.confidence * 100)}%`,
    });
  });
  renderList();
  document.body.dataset.detections = String(state.shown.length);
}

function renderList() {
  const body = $("detection-list");
  body.replaceChildren();
  state.shown.forEach((d, i) => {
    const row = document.createElement("tr");
    row.classList.toggle("selected", i === state.current);
    const cells = [d.artifact_type, formatTime(d.start_ms / 1000), formatTime(d.end_ms / 1000),
      `${d.end_ms - d.start_ms} ms`, `${Math.round(d.confidence * 100)}%`];
    for (const text of cells) row.append(Object.assign(document.createElement("td"), { textContent: text }));
    const action = document.createElement("td");
    if (d.source === "model") {
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: "Explain" });
      button.className = "secondary explain";
      button.title = "Which time-frequency cells drove this score";
      button.addEventListener("click", (e) => {
        e.stopPropagation();
        go(i);
        explain(fileUrl, d, $("explanation"));
      });
      action.append(button);
    }
    row.append(action);
    row.addEventListener("click", () => go(i));
    body.append(row);
  });
  $("detection-count").textContent = String(state.shown.length);
}

// The verdict model's call on the file's first 30 s (the most one explanation covers).
$("explain-verdict")?.addEventListener("click", () => {
  const span = { target: "verdict", artifact_type: "verdict", start_ms: 0, end_ms: Math.min(config.durationMs, 30000) };
  explain(fileUrl, span, $("explanation"));
});

function go(index) {
  if (!state.shown.length) return;
  state.current = (index + state.shown.length) % state.shown.length;
  const d = state.shown[state.current];
  ws.setScrollTime(Math.max(0, d.start_ms / 1000 - 1));
  ws.setTime(d.start_ms / 1000);
  renderList();
}

function playCurrent() {
  const d = state.shown[state.current];
  if (d) ws.play(d.start_ms / 1000, d.end_ms / 1000);
}

function showTranscript(file) {
  if (!transcript || !file.transcript) return;
  const t = file.transcript;
  const findings = file.detections.filter((d) => d.source === "transcript");
  // The slider asks again on every move; the words and findings change only with the script.
  const key = JSON.stringify([t.wer, t.cer, findings]);
  if (key === shownTranscript) return;
  shownTranscript = key;
  transcript.render(t.words, findings);
  const probs = Object.entries(t.language_probs).map(([l, p]) => `${l} ${Math.round(p * 100)}%`).join(", ");
  const scored = t.wer == null ? "" : ` · WER ${(100 * t.wer).toFixed(1)}%, CER ${(100 * t.cer).toFixed(1)}%`;
  $("transcript-meta").textContent = `${t.language} (${probs}) · ${t.model}${scored}`;
}

async function checkScript(event) {
  event.preventDefault();
  const out = $("script-result");
  try {
    await api("PATCH", fileUrl, { json: { expected_text: $("script").value } });
    out.textContent = "Checked.";
    out.className = "muted";
    await recompute();
  } catch (error) {
    out.textContent = error.message;
    out.className = "error-text";
  }
}

async function review(event) {
  event.preventDefault();
  const json = { ...settings(), annotation_set_id: $("review-set").value || null };
  json.threshold = Number(json.threshold);
  json.merge_window_ms = Number(json.merge_window_ms);
  json.min_duration_ms = Number(json.min_duration_ms);
  const out = $("review-result");
  try {
    const { body } = await api("POST", `${fileUrl}/review`, { json });
    out.innerHTML = `Added to v${body.annotation_set_version} with ${body.created} annotation(s). <a>Open it in the annotation workspace</a> (once processed).`;
    out.querySelector("a").href = body.annotate_url;
  } catch (error) {
    out.textContent = error.message;
    out.className = "error-text";
  }
}

async function start() {
  const peaks = await loadPeaks(fileUrl, config.durationMs);
  regions = RegionsPlugin.create();
  ws = createWaveform({ base: fileUrl, peaks, durationMs: config.durationMs, height: 140, plugins: [regions] });
  regions.on("region-clicked", (region, e) => {
    e.stopPropagation();
    go(Number(region.id.slice(1)));
  });
  if ($("transcript")) transcript = new Transcript($("transcript"), (t) => ws.setTime(t));
  ws.on("timeupdate", (t) => {
    $("time").textContent = formatTime(t);
    transcript?.highlight(t);
  });
  ws.on("play", () => ($("play").textContent = "Pause"));
  ws.on("pause", () => ($("play").textContent = "Play"));
  await new Promise((resolve) => ws.once("ready", resolve));
  await recompute();
  $("threshold").addEventListener("input", () => {
    $("threshold-value").textContent = $("threshold").value;
    recompute();
  });
  $("merge").addEventListener("change", recompute);
  $("min-duration").addEventListener("change", recompute);
  $("min-confidence").addEventListener("input", () => {
    $("min-confidence-value").textContent = $("min-confidence").value;
    applyFilters();
  });
  for (const box of document.querySelectorAll("#type-filters input")) box.addEventListener("change", applyFilters);
  $("play").addEventListener("click", () => ws.playPause());
  $("next-detection").addEventListener("click", () => go(state.current + 1));
  $("prev-detection").addEventListener("click", () => go(state.current - 1));
  $("play-detection").addEventListener("click", playCurrent);
  $("review-form")?.addEventListener("submit", review);
  $("script-form")?.addEventListener("submit", checkScript);
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea")) return;
    const keys = { " ": () => ws.playPause(), j: () => go(state.current + 1), k: () => go(state.current - 1), r: playCurrent };
    if (keys[e.key]) {
      e.preventDefault();
      keys[e.key]();
    }
  });
  document.body.dataset.results = "ready";
}

start();
