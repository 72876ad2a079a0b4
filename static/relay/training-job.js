// Live training job page: polls the job's API endpoint and redraws progress and curves.
const root = document.getElementById("job");
const FINISHED = new Set(["completed", "failed", "cancelled"]);

function chart(id, datasets, yLabel) {
  return new window.Chart(document.getElementById(id), {
    type: "line",
    data: { labels: [], datasets },
    options: { animation: false, maintainAspectRatio: false, scales: { x: { title: { display: true, text: "epoch" } }, y: { title: { display: true, text: yLabel } } } },
  });
}

const loss = chart("loss-chart", [
  { label: "train loss", data: [], borderColor: "#4363D8" },
  { label: "validation loss", data: [], borderColor: "#F58231" },
], "loss");
// A clip classifier's val_f1 is its macro F1 over classes; a detector's, its event F1.
const f1Label = root.dataset.task === "classification" ? "validation macro F1 (clips)" : "validation event F1";
const f1 = chart("f1-chart", [{ label: f1Label, data: [], borderColor: "#3CB44B" }], "F1");

function draw(history) {
  const epochs = history.map((h) => h.epoch);
  loss.data.labels = f1.data.labels = epochs;
  loss.data.datasets[0].data = history.map((h) => h.train_loss);
  loss.data.datasets[1].data = history.map((h) => h.val_loss);
  f1.data.datasets[0].data = history.map((h) => h.val_f1);
  loss.update();
  f1.update();
}

function show(job) {
  document.getElementById("job-status").textContent = job.status;
  document.getElementById("job-status").className = `status ${job.status}`;
  document.getElementById("job-epoch").textContent = job.current_epoch;
  document.getElementById("job-device").textContent = job.device || "—";
  document.getElementById("job-progress").value = job.progress;
  const error = document.getElementById("job-error");
  error.textContent = job.error_message;
  error.hidden = !job.error_message;
  draw(job.history);
}

async function poll() {
  const response = await fetch(root.dataset.api, { headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const job = await response.json();
  show(job);
  if (FINISHED.has(job.status)) {
    if (job.model_id && document.getElementById("no-model")) window.location.reload();
    document.getElementById("cancel-form")?.remove();
    return;
  }
  setTimeout(poll, 2000);
}

draw(JSON.parse(document.getElementById("job-history").textContent));
poll();
