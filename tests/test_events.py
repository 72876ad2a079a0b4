"""Post-processing and event-based evaluation, checked against hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from relayml.events import (
    Event,
    average_precision,
    event_metrics,
    frames_to_targets,
    matches,
    postprocess,
)

TYPES = ["glitch", "long_pause"]


def scores_from_spans(spans_ms: list[tuple[int, int, float]], total_ms: int = 3000, frame_ms: int = 10):
    scores = np.zeros((total_ms // frame_ms, len(TYPES)), dtype=np.float32)
    for start, end, value in spans_ms:
        scores[start // frame_ms : end // frame_ms, 0] = value
    return scores


def test_the_seeds_merge_example_gives_one_glitch():
    # 1000–1100, 1150–1250, 1280–1380 with a 200 ms window → one glitch 1000–1380.
    scores = scores_from_spans([(1000, 1100, 0.7), (1150, 1250, 0.9), (1280, 1380, 0.6)])
    found = postprocess(scores, TYPES, 10, threshold=0.5, merge_window_ms=200, min_duration_ms=50)
    assert found == [Event("glitch", 1000, 1380, pytest.approx(0.9))]


def test_threshold_then_merge_then_min_duration():
    scores = scores_from_spans([(100, 130, 0.8), (600, 700, 0.4), (900, 960, 0.95)])
    found = postprocess(scores, TYPES, 10, threshold=0.5, merge_window_ms=0, min_duration_ms=50)
    assert [(e.start_ms, e.end_ms) for e in found] == [(900, 960)]  # 30 ms too short, 0.4 too low
    merged = postprocess(scores, TYPES, 10, threshold=0.3, merge_window_ms=500, min_duration_ms=50)
    assert [(e.start_ms, e.end_ms) for e in merged] == [(100, 960)]


def test_per_type_thresholds():
    scores = np.zeros((100, 2), dtype=np.float32)
    scores[10:20, 0] = 0.6
    scores[50:70, 1] = 0.6
    found = postprocess(scores, TYPES, 10, threshold={"glitch": 0.7, "long_pause": 0.5}, min_duration_ms=0)
    assert [e.artifact_type for e in found] == ["long_pause"]


def test_collars_follow_the_contract():
    ref = Event("glitch", 1000, 2000)
    assert matches(ref, Event("glitch", 1200, 2000))
    assert not matches(ref, Event("glitch", 1201, 2000))
    assert matches(ref, Event("glitch", 1000, 2200))  # 20 % of 1000 ms is 200 ms
    long_ref = Event("glitch", 0, 5000)
    assert matches(long_ref, Event("glitch", 0, 6000))  # 20 % of 5 s is 1 s
    assert not matches(long_ref, Event("glitch", 0, 6001))


def test_each_event_matches_once_with_the_best_pairing():
    refs = [Event("glitch", 0, 100), Event("glitch", 150, 250)]
    # Greedy matching of the first estimate to the first reference would leave the second unmatched.
    ests = [Event("glitch", 140, 240), Event("glitch", 10, 90)]
    metrics = event_metrics([(refs, ests)], ["glitch"])
    assert metrics["per_type"]["glitch"] == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2, "detections": 2,
    }  # fmt: skip
    duplicate = event_metrics([(refs[:1], [Event("glitch", 0, 100), Event("glitch", 5, 100)])], ["glitch"])
    assert duplicate["per_type"]["glitch"]["precision"] == 0.5


def test_overall_is_micro_averaged_over_types_and_files():
    file1 = ([Event("glitch", 0, 100), Event("long_pause", 500, 1500)], [Event("glitch", 0, 100)])
    file2 = ([Event("long_pause", 0, 1000)], [Event("long_pause", 0, 1000), Event("glitch", 3000, 3100)])
    metrics = event_metrics([file1, file2], TYPES)
    assert metrics["overall"]["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["overall"]["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["per_type"]["long_pause"]["recall"] == 0.5


def test_targets_widen_short_events_and_cover_overlapped_frames():
    targets = frames_to_targets(
        [Event("glitch", 1003, 1006), Event("long_pause", 95, 205)], TYPES, 200, 10, 60
    )
    assert np.flatnonzero(targets[:, 0]).tolist() == list(range(97, 104))  # 974.5–1034.5 ms
    assert np.flatnonzero(targets[:, 1]).tolist() == list(range(9, 21))


def test_average_precision_by_hand():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    targets = np.array([1, 0, 1, 0])
    assert average_precision(scores, targets) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert average_precision(scores, np.zeros(4)) is None


def test_a_models_per_type_floors_join_a_split_long_pause_and_drop_short_silences():
    scores = np.zeros((500, 2), dtype=np.float32)
    scores[50:60, 0] = 0.9  # a 100 ms glitch
    scores[100:160, 1] = scores[190:260, 1] = 0.9  # one long pause whose scores dip for 300 ms
    scores[400:412, 1] = 0.9  # 120 ms of ordinary pause
    floors = {"long_pause": {"merge_window_ms": 400, "min_duration_ms": 300}}
    plain = postprocess(scores, TYPES, 10, 0.5, merge_window_ms=200, min_duration_ms=50)
    assert [(e.artifact_type, e.start_ms, e.end_ms) for e in plain] == [
        ("glitch", 500, 600),
        ("long_pause", 1000, 1600),
        ("long_pause", 1900, 2600),
        ("long_pause", 4000, 4120),
    ]
    floored = postprocess(scores, TYPES, 10, 0.5, merge_window_ms=200, min_duration_ms=50, floors=floors)
    assert [(e.artifact_type, e.start_ms, e.end_ms) for e in floored] == [
        ("glitch", 500, 600), ("long_pause", 1000, 2600),
    ]  # fmt: skip
    # Floors only raise: a job asking for more than them gets more.
    longer = postprocess(scores, TYPES, 10, 0.5, merge_window_ms=200, min_duration_ms=1000, floors=floors)
    assert [(e.artifact_type, e.start_ms) for e in longer] == [("long_pause", 1000)]
