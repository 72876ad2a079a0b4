"""PSDS (relayml.psds) on scores whose answer is known: it rewards scores that mark the events and
only them, it widens sub-frame clicks as training does, and it says nothing about unseen types."""

from __future__ import annotations

import numpy as np
import pytest

from relayml.events import Event
from relayml.psds import ScoredFile, psds

TYPES = ["glitch", "long_pause"]
FRAME_MS = 10
FRAMES = 1000  # 10 s


def files(mark_events: bool, count: int = 12, seed: int = 0) -> list[ScoredFile]:
    """Clips with a 5 ms click at 1 s and a 2 s pause at 5 s, over noise scores below 0.4."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        scores = rng.random((FRAMES, len(TYPES))) * 0.4
        if mark_events:
            scores[98:103, 0] = 0.9  # a few frames around the click, as a frame detector marks it
            scores[500:700, 1] = 0.8
        out.append(ScoredFile(scores, [Event("glitch", 1000, 1005), Event("long_pause", 5000, 7000)]))
    return out


def test_scores_that_mark_each_event_and_nothing_else_score_one():
    result = psds(files(mark_events=True), TYPES, FRAME_MS, min_target_ms=60)
    assert result["per_type"] == {"glitch": 1.0, "long_pause": 1.0}
    assert result["overall"] == 1.0


def test_scores_that_never_rise_over_the_noise_score_zero():
    result = psds(files(mark_events=False), TYPES, FRAME_MS, min_target_ms=60)
    assert result["per_type"] == {"glitch": 0.0, "long_pause": 0.0}
    assert result["overall"] == 0.0


def test_a_click_shorter_than_a_frame_counts_only_because_it_is_widened_as_targets_are():
    unwidened = psds(files(mark_events=True), TYPES, FRAME_MS, min_target_ms=0)
    assert unwidened["per_type"]["glitch"] == 0.0  # 5 ms under a 50 ms detection: under half of it
    assert psds(files(mark_events=True), TYPES, FRAME_MS, min_target_ms=60)["per_type"]["glitch"] == 1.0


def test_a_false_alarm_ranked_above_the_events_costs_its_rate_in_the_area():
    noisy = files(mark_events=True)
    noisy[0].scores[300:320, 0] = 0.95  # one confident glitch where there is none: 30 per hour
    value = psds(noisy, TYPES, FRAME_MS, min_target_ms=60)["per_type"]["glitch"]
    # Every click is found only at thresholds that also let the false alarm through: the curve is
    # 0 up to 30 false alarms per hour and 1 from there to 100, an area of 0.7.
    assert value == pytest.approx(0.7, abs=0.005)


def test_a_type_without_reference_events_has_no_score():
    scored = [
        ScoredFile(np.hstack([f.scores, np.zeros((FRAMES, 1))]), f.events) for f in files(True, count=2)
    ]
    result = psds(scored, [*TYPES, "clipping"], FRAME_MS, min_target_ms=60)
    assert result["per_type"] == {"glitch": 1.0, "long_pause": 1.0, "clipping": None}
    assert psds([], TYPES, FRAME_MS, min_target_ms=60)["overall"] is None
