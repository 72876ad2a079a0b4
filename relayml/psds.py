"""The Polyphonic Sound Detection Score (PSDS) of a detector's frame scores, beside event F1.

Event F1 judges one operating point (a threshold and the post-processing); PSDS judges the scores
themselves over every threshold: the area under the curve of the share of events found against the
false alarms per hour, up to 100 per hour, so two models compare without tuning either. The figure
comes from `sed_scores_eval` (Ebbers et al., the implementation DCASE scores its challenge with),
computed exactly from the frame scores rather than from a sampled set of thresholds.

An event counts as found when half of it is covered and half of the detection lies on it
(psds_eval's defaults, between DCASE's scenario 1 at 0.7 and scenario 2 at 0.1: at 0.1 one detection
spanning a whole 10-second clip "finds" a 2-second pause in it, so random scores score 1.0 on long
pauses); detections that land on another type's event (cross-triggers) cost half a false alarm, and
the overall figure is penalised by the spread between types, as in DCASE. A reference shorter than
the model's minimum target (a 3 ms click) is widened around its centre exactly as the training
targets are (relayml.events.widened): a frame detector cannot draw a region narrower than a few
frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relayml.events import Event, widened

SCENARIO = {
    "dtc_threshold": 0.5,
    "gtc_threshold": 0.5,
    "cttc_threshold": 0.3,
    "alpha_ct": 0.5,
    "alpha_st": 1.0,
    "max_efpr": 100.0,
}


@dataclass(frozen=True)
class ScoredFile:
    """One file's (T, K) frame scores and its reference events."""

    scores: np.ndarray
    events: list[Event]


def psds(files: list[ScoredFile], types: list[str], frame_ms: float, min_target_ms: float) -> dict:
    """{"overall": PSDS or None, "per_type": {type: PSDS or None}, "scenario": the criteria}.

    None where there is nothing to score: no reference event of that type (a type never seen is
    neither found nor missed), or no file at all."""
    per_type: dict[str, float | None] = dict.fromkeys(types)
    result: dict = {"overall": None, "per_type": per_type, "scenario": SCENARIO}
    present = sorted({e.artifact_type for f in files for e in f.events if e.artifact_type in types})
    if not files or not present:
        return result
    # Imported here: it pulls in pandas and numba, which only training and benchmarks need.
    from sed_scores_eval import intersection_based, io

    scores, truth, durations = {}, {}, {}
    for i, f in enumerate(files):
        key = f"file{i:05d}"
        columns = [types.index(name) for name in present]
        timestamps = np.arange(len(f.scores) + 1) * frame_ms / 1000
        scores[key] = io.create_score_dataframe(f.scores[:, columns], timestamps, present)
        durations[key] = float(timestamps[-1])
        truth[key] = [
            (max(0.0, start) / 1000, min(end, durations[key] * 1000) / 1000, e.artifact_type)
            for e in f.events
            if e.artifact_type in present
            for start, end in [widened(e, min_target_ms)]
        ]
    overall, single, _, _ = intersection_based.psds(
        scores=scores, ground_truth=truth, audio_durations=durations, unit_of_time="hour", **SCENARIO
    )
    per_type.update({name: round(float(single[name]), 4) for name in present})
    result["overall"] = round(float(overall), 4)
    return result
