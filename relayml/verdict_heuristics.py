"""A file's verdict from its clips' scores (seed 004's heuristics). Plain numpy: the web process
names and shows these without loading the model (torch stays in the workers)."""

from __future__ import annotations

import numpy as np

HEURISTICS = ("mean", "max", "majority", "duration_weighted")
DEFAULT_HEURISTIC = "duration_weighted"
LABELS = ("human", "artificial")


def verdict(score: float, heuristic: str) -> dict:
    label = "artificial" if score >= 0.5 else "human"
    confidence = score if label == "artificial" else 1 - score
    return {
        "heuristic": heuristic,
        "score": round(score, 4),
        "confidence": round(confidence, 4),
        "classification": label,
    }


def combine(clip_scores: list[dict]) -> dict[str, dict]:
    """Every heuristic's verdict over a file's clips."""
    scores = np.array([c["score"] for c in clip_scores], dtype=np.float64)
    durations = np.array([c["end"] - c["start"] for c in clip_scores], dtype=np.float64)
    values = {
        "mean": float(scores.mean()),
        "max": float(scores.max()),
        "majority": float((scores >= 0.5).mean()),
        "duration_weighted": float((scores * durations).sum() / max(durations.sum(), 1e-9)),
    }
    return {name: verdict(values[name], name) for name in HEURISTICS}
