"""Events ↔ frames, the post-processing inference uses, and event-based evaluation.

Post-processing (the contract's order): threshold each type's frame scores → merge same-type
detections whose gap is at most `merge_window_ms` → drop detections shorter than `min_duration_ms`.
A merged detection's confidence is the max of its parts.

Evaluation follows the DCASE event-based metric: a detection matches a reference event of the same
type when their onsets differ by at most 200 ms and their offsets by at most max(200 ms, 20 % of
the reference's length); each event matches at most once (maximum bipartite matching).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ONSET_COLLAR_MS = 200
OFFSET_COLLAR_MS = 200
OFFSET_COLLAR_RATE = 0.2


@dataclass(frozen=True)
class Event:
    artifact_type: str
    start_ms: int
    end_ms: int
    confidence: float = 1.0

    def to_dict(self) -> dict:
        return {
            "artifact_type": self.artifact_type,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "confidence": round(float(self.confidence), 4),
        }


def frames_to_targets(
    events: list[Event], types: list[str], n_frames: int, frame_ms: float, min_target_ms: float = 0
) -> np.ndarray:
    """A (n_frames, len(types)) 0/1 matrix: frame t is positive if it overlaps the event.

    Events shorter than `min_target_ms` are widened around their centre, so a 3 ms click becomes
    a target the detector can localise and that survives the minimum-duration filter.
    """
    targets = np.zeros((n_frames, len(types)), dtype=np.float32)
    index = {name: i for i, name in enumerate(types)}
    for event in events:
        if event.artifact_type not in index:
            continue
        start, end = widened(event, min_target_ms)
        first = max(0, int(np.floor(start / frame_ms)))
        last = min(n_frames, int(np.ceil(end / frame_ms)))
        targets[first:last, index[event.artifact_type]] = 1.0
    return targets


def widened(event: Event, min_ms: float) -> tuple[float, float]:
    """(start, end) in ms, at least `min_ms` long: a shorter event is widened around its centre."""
    start, end = float(event.start_ms), float(event.end_ms)
    if end - start < min_ms:
        centre = (start + end) / 2
        start, end = centre - min_ms / 2, centre + min_ms / 2
    return start, end


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs in a 1-D boolean array."""
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]])
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(changes[::2].tolist(), changes[1::2].tolist(), strict=True))


def postprocess(
    scores: np.ndarray,
    types: list[str],
    frame_ms: float,
    threshold: float | dict[str, float] = 0.5,
    merge_window_ms: float = 200,
    min_duration_ms: float = 50,
    duration_ms: int | None = None,
    floors: dict[str, dict[str, float]] | None = None,
) -> list[Event]:
    """Frame scores (T, K) in [0, 1] → detections, sorted by start time.

    `floors` are a model's per-type minimums for the merge window and the duration, learned on its
    validation files (relayml.train.Trainer.choose_floors): a long pause whose scores dip in the
    middle is one pause, and a 100 ms silence is no long pause, whatever the job's settings say for
    clicks. The job's settings apply where they are larger."""
    detections: list[Event] = []
    for k, name in enumerate(types):
        cut = threshold.get(name, 0.5) if isinstance(threshold, dict) else threshold
        floor = (floors or {}).get(name, {})
        window = max(merge_window_ms, floor.get("merge_window_ms", 0))
        shortest = max(min_duration_ms, floor.get("min_duration_ms", 0))
        column = scores[:, k]
        spans = [(s * frame_ms, e * frame_ms, float(column[s:e].max())) for s, e in runs(column >= cut)]
        for start, end, confidence in merge(spans, window):
            if duration_ms is not None:
                end = min(end, duration_ms)
            if end - start >= shortest and end > start:
                detections.append(Event(name, int(round(start)), int(round(end)), confidence))
    return sorted(detections, key=lambda e: (e.start_ms, e.artifact_type))


def merge(spans: list[tuple[float, float, float]], window_ms: float) -> list[tuple[float, float, float]]:
    merged: list[list[float]] = []
    for start, end, confidence in sorted(spans):
        if merged and start - merged[-1][1] <= window_ms:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] = max(merged[-1][2], confidence)
        else:
            merged.append([start, end, confidence])
    return [(s, e, c) for s, e, c in merged]


def matches(reference: Event, estimate: Event) -> bool:
    onset_ok = abs(reference.start_ms - estimate.start_ms) <= ONSET_COLLAR_MS
    collar = max(OFFSET_COLLAR_MS, OFFSET_COLLAR_RATE * (reference.end_ms - reference.start_ms))
    return onset_ok and abs(reference.end_ms - estimate.end_ms) <= collar


def count_matches(references: list[Event], estimates: list[Event]) -> int:
    """Size of a maximum matching between references and estimates (Kuhn's augmenting paths)."""
    candidates = [[j for j, est in enumerate(estimates) if matches(ref, est)] for ref in references]
    owner: dict[int, int] = {}

    def assign(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or assign(owner[j], seen):
                owner[j] = i
                return True
        return False

    return sum(assign(i, set()) for i in range(len(references)))


@dataclass
class Counts:
    tp: int = 0
    n_ref: int = 0
    n_est: int = 0

    def add(self, other: Counts) -> None:
        self.tp, self.n_ref, self.n_est = (
            self.tp + other.tp,
            self.n_ref + other.n_ref,
            self.n_est + other.n_est,
        )

    def scores(self) -> dict:
        precision = self.tp / self.n_est if self.n_est else 0.0
        recall = self.tp / self.n_ref if self.n_ref else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": self.n_ref,
            "detections": self.n_est,
        }


def event_counts(references: list[Event], estimates: list[Event], types: list[str]) -> dict[str, Counts]:
    """Per-type counts for one file."""
    out = {}
    for name in types:
        refs = [e for e in references if e.artifact_type == name]
        ests = [e for e in estimates if e.artifact_type == name]
        out[name] = Counts(count_matches(refs, ests), len(refs), len(ests))
    return out


def event_metrics(pairs: list[tuple[list[Event], list[Event]]], types: list[str]) -> dict:
    """Per-type and overall (micro-averaged) precision/recall/F1 over (references, estimates) files."""
    totals = {name: Counts() for name in types}
    for references, estimates in pairs:
        for name, counts in event_counts(references, estimates, types).items():
            totals[name].add(counts)
    overall = Counts()
    for counts in totals.values():
        overall.add(counts)
    return {"per_type": {n: c.scores() for n, c in totals.items()}, "overall": overall.scores()}


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float | None:
    """Frame-level average precision (area under the precision-recall steps); None without positives."""
    positives = targets.sum()
    if positives == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    hits = targets[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / positives)
