// What the annotation workspace and the inference file page share: a waveform drawn from the
// server's peaks (the browser never decodes the file) over audio streamed with Range requests,
// with timeline, zoom and, for long files, a minimap.
import WaveSurfer from "../vendor/wavesurfer.js/wavesurfer.esm.js";
import MinimapPlugin from "../vendor/wavesurfer.js/plugins/minimap.esm.js";
import TimelinePlugin from "../vendor/wavesurfer.js/plugins/timeline.esm.js";
import ZoomPlugin from "../vendor/wavesurfer.js/plugins/zoom.esm.js";
import { api } from "./api.js";

const MAX_PEAK_PAIRS = 100_000; // ≈ 0.8 MB of JSON; enough for any screen, even zoomed in on 2 hours
const MINIMAP_AFTER_MS = 60_000;

export function tint(hex, alpha = 0.3) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function formatTime(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds - m * 60;
  const h = Math.floor(m / 60);
  const mm = h ? String(m % 60).padStart(2, "0") : String(m);
  return `${h ? `${h}:` : ""}${mm}:${s.toFixed(3).padStart(6, "0")}`;
}

// `base` is the audio's API URL: `${base}/peaks` and `${base}/content` are fetched from it.
export async function loadPeaks(base, durationMs) {
  const factor = Math.max(1, Math.ceil(Math.ceil(durationMs / 10) / MAX_PEAK_PAIRS));
  const { body } = await api("GET", `${base}/peaks?samples_per_pixel=${160 * factor}`);
  return Float32Array.from(body.data, (v) => v / 128);
}

export function createWaveform({ base, peaks, durationMs, height, zoom = {}, plugins = [], ...options }) {
  const all = [...plugins, TimelinePlugin.create({ container: "#timeline" }), ZoomPlugin.create({ scale: 0.25, maxZoom: 4000, ...zoom })];
  if (durationMs > MINIMAP_AFTER_MS) all.push(MinimapPlugin.create({ container: "#minimap", height: 36 }));
  return WaveSurfer.create({
    container: "#waveform", height, waveColor: "#6b7a99", progressColor: "#2f3f66", normalize: true,
    url: `${base}/content`, peaks: [peaks], duration: durationMs / 1000, plugins: all, ...options,
  });
}
