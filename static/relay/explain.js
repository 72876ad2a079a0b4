// What drove a detection: the occlusion map a worker computed (relayml/explain.py), drawn over the
// spectrogram of the span and a second either side. Asked for on a click; until the worker is done
// the server answers 202 with the explanation's status, and this polls.
import { api } from "./api.js";

const POLL_MS = 1000;
const CELL = 3; // pixels per frame and per band

// `detection` is a detection, or {target: "verdict", start_ms, end_ms} for the verdict model's call.
export async function explain(fileUrl, detection, card) {
  const span = { start_ms: detection.start_ms, end_ms: detection.end_ms };
  const query = new URLSearchParams(
    detection.target === "verdict" ? { target: "verdict", ...span } : { artifact_type: detection.artifact_type, ...span },
  );
  const caption = card.querySelector(".caption");
  card.hidden = false;
  card.dataset.state = "waiting";
  caption.textContent = `Explaining ${detection.artifact_type} at ${detection.start_ms}–${detection.end_ms} ms…`;
  try {
    for (;;) {
      const { body } = await api("GET", `${fileUrl}/explain?${query}`);
      if (body.status !== "queued" && body.status !== "running") {
        draw(card.querySelector("canvas"), body.explanation, detection);
        const [prediction] = body.result.classPredictions;
        caption.textContent = `${prediction.label} scored ${Math.round(prediction.score * 100)}% over the span; outlined: the time-frequency cells whose hiding lowered it most (${body.explanation.method}).`;
        card.dataset.state = "done";
        return body;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } catch (error) {
    caption.textContent = error.message;
    card.dataset.state = "failed";
  }
}

// seed 003's column-major RLE: runs alternate, starting with a run of zeros; index = frame * height + band.
export function decodeRle(runs, height, width) {
  const mask = new Uint8Array(height * width);
  let position = 0;
  runs.forEach((run, i) => {
    if (i % 2 === 1) mask.fill(1, position, position + run);
    position += run;
  });
  return mask;
}

function draw(canvas, explanation, detection) {
  const { height, width } = explanation.dimensions;
  const mask = decodeRle(explanation.maskRLE, height, width);
  const spectrogram = Uint8Array.from(atob(explanation.spectrogram), (c) => c.charCodeAt(0)); // frame-major
  canvas.width = width * CELL;
  canvas.height = height * CELL;
  const g = canvas.getContext("2d");
  for (let frame = 0; frame < width; frame += 1) {
    for (let band = 0; band < height; band += 1) {
      const level = spectrogram[frame * height + band];
      const hit = mask[frame * height + band];
      g.fillStyle = hit ? `rgb(${Math.max(level, 140)}, 40, 40)` : `rgb(${level}, ${level}, ${level})`;
      g.fillRect(frame * CELL, (height - 1 - band) * CELL, CELL, CELL); // low bands at the bottom
    }
  }
  const x = (ms) => ((ms - explanation.start_ms) / explanation.frame_ms) * CELL;
  g.strokeStyle = "#f5c518";
  g.lineWidth = 2;
  g.strokeRect(x(detection.start_ms), 0, Math.max(2, x(detection.end_ms) - x(detection.start_ms)), canvas.height);
  canvas.dataset.maskCells = String(mask.reduce((a, b) => a + b, 0));
}
