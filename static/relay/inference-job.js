// Inference job page: live progress, the seed's statistics and a row per file, refreshed from the API
// while the job runs (and whenever an upload on this page finishes processing).
import { api } from "./api.js";
import { qualityScore } from "./inference-stats.js";

const config = JSON.parse(document.getElementById("job-config").textContent);
const url = `/api/v1/inference-jobs/${config.jobId}`;
const POLL_MS = 1500;
const FINAL = new Set(["completed", "failed", "cancelled"]);

function duration(ms) {
  if (ms == null) return "—";
  const s = ms / 1000;
  return s >= 60 ? `${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, "0")}` : `${s.toFixed(1)} s`;
}

function stats(job) {
  const files = job.files;
  const total = files.length;
  const withArtifacts = files.filter((f) => f.detection_count > 0).length;
  const detections = files.reduce((n, f) => n + f.detection_count, 0);
  const byType = {};
  for (const f of files) {
    for (const d of f.detections) {
      byType[d.artifact_type] ??= { count: 0, files: new Set() };
      byType[d.artifact_type].count += 1;
      byType[d.artifact_type].files.add(f.id);
    }
  }
  return { total, withArtifacts, detections, byType, rate: total ? withArtifacts / total : 0, perFile: total ? detections / total : 0 };
}

// The language mix (files per detected language) and the job's WER over files with a script.
function speechStats(files) {
  const heard = files.filter((f) => f.transcript);
  const languages = {};
  for (const f of heard) languages[f.transcript.language] = (languages[f.transcript.language] || 0) + 1;
  const mix = Object.entries(languages).sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l} ${n}`).join(" · ");
  const scored = heard.filter((f) => f.transcript.wer != null);
  const wer = scored.length ? scored.reduce((s, f) => s + f.transcript.wer, 0) / scored.length : null;
  return [["Languages", mix || "—"], ["Mean WER", wer == null ? "—" : `${(100 * wer).toFixed(1)}%`]];
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function render(job) {
  const badge = document.getElementById("job-status");
  badge.textContent = job.status;
  badge.className = `status ${job.status}`;
  const progress = document.getElementById("job-progress");
  progress.value = job.total_files ? job.processed_files / job.total_files : 0;
  document.getElementById("job-counts").textContent =
    `${job.processed_files} of ${job.total_files} file(s) processed, ${job.failed_files} failed, ${job.total_detections} detection(s)`;
  document.getElementById("job-error").textContent = job.error_message;
  if (FINAL.has(job.status)) document.getElementById("cancel-job")?.closest("form").remove();
  const s = stats(job);
  const box = document.getElementById("stats");
  box.replaceChildren();
  const items = [
    ["Files", s.total], ["Files with artifacts", s.withArtifacts], ["Artifact rate", `${(100 * s.rate).toFixed(1)}%`],
    ["Detections", s.detections], ["Detections per file", s.perFile.toFixed(1)],
  ];
  if (config.heard) items.push(...speechStats(job.files));
  for (const [label, value] of items) {
    const div = document.createElement("div");
    div.innerHTML = "<strong></strong><span></span>";
    div.querySelector("strong").textContent = value;
    div.querySelector("span").textContent = label;
    div.dataset.stat = label;
    box.append(div);
  }
  const typeRows = document.querySelector("#by-type tbody");
  typeRows.replaceChildren();
  for (const [type, { count, files }] of Object.entries(s.byType).sort()) {
    const row = document.createElement("tr");
    row.innerHTML = `<td><span class="swatch"></span></td>`;
    row.querySelector(".swatch").style.background = config.colors[type] || "#888";
    row.cells[0].append(type);
    row.append(cell(count), cell(files.size));
    typeRows.append(row);
  }
  const body = document.querySelector("#files tbody");
  body.replaceChildren();
  for (const f of job.files) {
    const row = document.createElement("tr");
    row.dataset.fileId = f.id;
    const name = document.createElement("td");
    if (f.status === "completed") {
      const link = document.createElement("a");
      link.href = `/inference/${job.id}/files/${f.id}/`;
      link.textContent = f.original_filename;
      name.append(link);
    } else name.textContent = f.original_filename;
    const status = document.createElement("td");
    status.innerHTML = `<span class="status ${f.status}"></span><div class="muted"></div>`;
    status.firstChild.textContent = f.status;
    status.lastChild.textContent = f.error_message;
    const counts = {};
    for (const d of f.detections) counts[d.artifact_type] = (counts[d.artifact_type] || 0) + 1;
    const done = f.status === "completed";
    row.append(name, status, cell(duration(f.duration_ms)), cell(done ? f.detection_count : "—"),
      cell(done ? `${qualityScore(f.detections, f.duration_ms)}/100` : "—"),
      cell(Object.entries(counts).map(([t, n]) => `${t}: ${n}`).join(", ")));
    if (config.heard) {
      const t = f.transcript;
      row.append(cell(t?.language || "—"), cell(t?.wer == null ? "—" : `${(100 * t.wer).toFixed(1)}%`));
      row.lastChild.dataset.wer = t?.wer ?? "";
    }
    if (config.judged) {
      const v = f.verdict;
      row.append(cell(v?.classification ? `${v.classification} (${v.confidence})` : (v?.error ? "—" : "")));
      row.lastChild.classList.add("verdict");
    }
    body.append(row);
  }
}

// The job embeds only its first files; the statistics need every one, so page through the rest.
async function allFiles(job) {
  if (!job.files_truncated) return job.files;
  const files = [];
  for (let page = 1; ; page += 1) {
    const { body } = await api("GET", `${url}/files?page_size=500&page=${page}`);
    files.push(...body.items);
    if (page * 500 >= body.total) return files;
  }
}

async function refresh() {
  const { body } = await api("GET", url);
  body.files = await allFiles(body);
  render(body);
  return body;
}

let looping = false;

async function loop() {
  const job = await refresh();
  const uploading = document.querySelector("#uploads li:not([data-status=completed]):not([data-status=failed])");
  if (!FINAL.has(job.status) || uploading) return setTimeout(loop, POLL_MS);
  looping = false;
  document.body.dataset.job = "settled";
}

function kick() {
  if (looping) return;
  looping = true;
  delete document.body.dataset.job;
  setTimeout(loop, POLL_MS);
}

document.addEventListener("upload-done", () => refresh());
document.getElementById("upload-input")?.addEventListener("change", kick);
document.getElementById("dropzone")?.addEventListener("drop", kick);
looping = true;
loop();
