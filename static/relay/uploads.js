// Dataset and inference job pages: confirmations, and drag-and-drop upload of many files with a
// progress bar per file and each file's processing status followed live until it is done.
// The form's data-api is the multipart endpoint; each file is then polled at <data-api>/<id>.
import { csrfToken, describe } from "./api.js";

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

// XMLHttpRequest, not fetch: only XHR reports upload progress.
function upload(url, { file, row }) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const bar = row.querySelector("progress");
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && (bar.value = (100 * e.loaded) / e.total));
    show(row, "uploading");
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status !== 201) {
        show(row, "failed", describe(body) || `upload failed (HTTP ${xhr.status})`);
        return resolve();
      }
      bar.value = 100;
      const created = body.items[0];
      row.dataset.fileId = created.id;
      follow(`${url}/${created.id}`, row).then(resolve);
    });
    xhr.addEventListener("error", () => {
      show(row, "failed", "network error while uploading");
      resolve();
    });
    const data = new FormData();
    data.append("file", file);
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
