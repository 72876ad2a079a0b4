// The seed's (Relay's inference guide) per-file quality score, shared by the job and file pages.
export function qualityScore(detections, durationMs) {
  if (!detections.length || !durationMs) return 100;
  const artifactTime = detections.reduce((n, d) => n + (d.end_ms - d.start_ms) * d.confidence, 0);
  const ratio = artifactTime / durationMs;
  return Math.round(Math.max(0, 100 * (1 - ratio * 10)));
}
