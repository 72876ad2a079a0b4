// Dataset and inference job pages: confirmations, and drag-and-drop upload of many files with a
// progress bar per file and each file's processing status followed live until it is done.
// The form's data-api is the multipart endpoint; each file is then polled at <data-api>/<id>.
import { api, describe } from "./api.js";

const POLL_MS = 1000;
const MAX_PARALLEL = 3;

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

const form = document.getElementById("upload-form");
if (form) setUpUploads(form);

function setUpUploads(form) {
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("upload-input");
  const list = document.getElementById("uploads");
  const queue = [];
  let running = 0;

  const enqueue = (files) => {
    for (const file of files) queue.push({ file, row: addRow(list, file) });
    pump();
  };
  const pump = () => {
    while (running < MAX_PARALLEL && queue.length) {
      const job = queue.shift();
      running += 1;
      upload(form.dataset.api, job).finally(() => {
        running -= 1;
        pump();
      });
    }
  };
  const takeChosen = () => {
    enqueue([...input.files]);
    input.value = "";
  };
  input.addEventListener("change", takeChosen);
  if (input.files.length) takeChosen(); // chosen before this module had loaded
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    enqueue([...event.dataTransfer.files]);
  });
  document.body.dataset.uploads = "ready";
}

function addRow(list, file) {
  const row = document.createElement("li");
  row.innerHTML = `<span class="name"></span> <progress max="100" value="0"></progress>
    <span class="status">waiting</span> <span class="muted detail"></span>`;
  row.querySelector(".name").textContent = file.name;
  list.append(row);
  return row;
}

function show(row, status, detail = "") {
  const badge = row.querySelector(".status");
  badge.textContent = status;
  badge.className = `status ${status}`;
  row.querySelector(".detail").textContent = detail;
  row.dataset.status = status;
}

// The contract's three steps, the same whatever the storage: ask for an upload URL, POST the bytes
// there (with S3 storage a presigned POST straight to the bucket, never through this server), then
// confirm, which queues processing. Dataset audio and inference files name their fields differently.
const KINDS = {
  audio: { size: "file_size", fields: "fields", id: "audio_id" },
  inference: { size: "file_size_bytes", fields: "upload_fields", id: "file_id" },
};

async function upload(url, { file, row }) {
  const kind = KINDS[document.getElementById("upload-form").dataset.upload || "audio"];
  show(row, "uploading");
  try {
    const request = { filename: file.name, [kind.size]: file.size };
    if (file.type) request.content_type = file.type;
    const { body: target } = await api("POST", `${url}/upload-url`, { json: request });
    await send(target.upload_url, target[kind.fields], file, row.querySelector("progress"));
    const id = target[kind.id];
    await api("POST", `${url}/confirm`, { json: { [kind.id]: id } });
    row.dataset.fileId = id;
    await follow(`${url}/${id}`, row);
  } catch (error) {
    show(row, "failed", error.message);
  }
}

// XMLHttpRequest, not fetch: only XHR reports upload progress. No CSRF header: the URL is the
// credential, and a bucket on another origin would have to allow the header.
function send(url, fields, file, bar) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && (bar.value = (100 * e.loaded) / e.total));
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100;
        return resolve();
      }
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      reject(new Error(describe(body) || `upload failed (HTTP ${xhr.status})`));
    });
    xhr.addEventListener("error", () => reject(new Error("network error while uploading")));
    const data = new FormData();
    for (const [name, value] of Object.entries(fields)) data.append(name, value);
    data.append("file", file); // last: S3 ignores fields after the file
    xhr.send(data);
  });
}

const FINAL = new Set(["ready", "completed", "failed"]);

async function follow(url, row) {
  for (;;) {
    const response = await fetch(url, { credentials: "same-origin" });
    const file = await response.json();
    const state = file.processing_status ?? file.status; // audio files vs inference files
    show(row, state, file.error_message || "");
    if (FINAL.has(state)) {
      row.dispatchEvent(new CustomEvent("upload-done", { bubbles: true, detail: file }));
      return;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
