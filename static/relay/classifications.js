// Batch upload on the classifications page: each file POSTed to /api/v1/classifications (the same
// endpoint as API clients), then its row polled until the verdict arrives.
import { api, csrfToken, describe } from "./api.js";

const form = document.getElementById("classify-form");
const rows = document.querySelector("#batch tbody");

function row(name) {
  const tr = document.createElement("tr");
  tr.innerHTML = "<td class='name'></td><td class='status'>uploading</td><td class='verdict'></td>";
  tr.querySelector(".name").textContent = name;
  rows.append(tr);
  return tr;
}

async function upload(file, ref, model) {
  const body = new FormData();
  body.append("file", file);
  if (ref) body.append("ref_id", ref);
  if (model) body.append("model_id", model);
  const response = await fetch("/api/v1/classifications", {
    method: "POST", body, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() },
  });
  const answer = await response.json().catch(() => ({ detail: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(describe(answer) || `HTTP ${response.status}`);
  return answer;
}

function show(tr, c) {
  tr.dataset.identifier = c.identifier;
  tr.querySelector(".name").innerHTML = `<a href="/classifications/${c.identifier}/"></a>`;
  tr.querySelector(".name a").textContent = c.name;
  tr.querySelector(".status").textContent = c.status;
  tr.querySelector(".verdict").textContent = c.verdict
    ? `${c.verdict.classification} (${c.verdict.confidence})` : (c.errors || "");
}

async function poll(waiting) {
  while (waiting.size) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const query = [...waiting.keys()].map((id) => `identifiers[]=${id}`).join("&");
    const { body } = await api("GET", `/api/v1/classifications?${query}`);
    for (const c of body) {
      show(waiting.get(c.identifier), c);
      if (c.status !== "new") waiting.delete(c.identifier);
    }
  }
}

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const files = [...document.getElementById("classify-files").files];
  const ref = document.getElementById("classify-ref").value.trim();
  const model = document.getElementById("classify-model")?.value || "";
  const waiting = new Map();
  await Promise.all(files.map(async (file) => {
    const tr = row(file.name);
    try {
      const c = await upload(file, ref, model);
      show(tr, c);
      waiting.set(c.identifier, tr);
    } catch (error) {
      tr.querySelector(".status").textContent = "refused";
      tr.querySelector(".verdict").textContent = error.message;
    }
  }));
  await poll(waiting);
});
