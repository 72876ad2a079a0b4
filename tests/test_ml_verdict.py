"""The verdict model's parts: heuristics over clips, EER, clipping, the channel augmentation, a real
(tiny) training run on packaged human and TTS speech, and the built-in model's integrity check."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from relayml.realdata import engines, voices
from relayml.verdict import RATE, VerdictModel, classify, clips
from relayml.verdict_build import NAME, load_builtin
from relayml.verdict_heuristics import combine
from relayml.verdict_train import VerdictTrainConfig, augment, mu_law, train
from tests.conftest import ROOT

BUILTIN = ROOT / "relayml" / "builtin"


def test_each_heuristic_reads_the_clips_as_its_name_says():
    scores = [{"start": 0, "end": 4, "score": 0.9}, {"start": 2, "end": 6, "score": 0.2},
              {"start": 4, "end": 5, "score": 0.3}]  # fmt: skip
    v = combine(scores)
    assert v["mean"]["score"] == pytest.approx(0.4667, abs=1e-4) and v["mean"]["classification"] == "human"
    assert v["max"]["score"] == 0.9 and v["max"]["classification"] == "artificial"
    assert v["majority"]["score"] == pytest.approx(1 / 3, abs=1e-4)
    assert v["duration_weighted"]["score"] == pytest.approx((0.9 * 4 + 0.2 * 4 + 0.3 * 1) / 9, abs=1e-4)
    assert v["max"]["confidence"] == 0.9 and v["mean"]["confidence"] == pytest.approx(0.5333, abs=1e-4)


def test_the_equal_error_rate_is_zero_when_separated_and_half_when_random():
    from relayml.verdict import equal_error_rate

    labels = np.array([0] * 50 + [1] * 50)
    assert equal_error_rate(np.linspace(0, 1, 100), labels) == 0.0
    assert equal_error_rate(np.linspace(1, 0, 100), labels) == 1.0
    rng = np.random.default_rng(0)
    assert 0.35 < equal_error_rate(rng.random(4000), np.tile(labels, 40)) < 0.65


def test_long_audio_is_cut_into_overlapping_clips_covering_it_all():
    spans = clips(np.zeros(int(9.5 * RATE), dtype=np.float32))
    assert spans[0] == (0, 4 * RATE) and spans[-1][1] == int(9.5 * RATE)
    assert all(b[0] - a[0] <= 2 * RATE for a, b in zip(spans, spans[1:], strict=False))
    assert clips(np.zeros(RATE)) == [(0, RATE)]


def test_the_channel_augmentation_keeps_length_and_mu_law_stays_close():
    rng = np.random.default_rng(1)
    tone = (0.3 * np.sin(np.arange(RATE) / RATE * 2 * np.pi * 440)).astype(np.float32)
    assert np.max(np.abs(mu_law(tone) - tone)) < 0.02
    out = augment(tone, rng)
    assert out.shape == tone.shape and out.dtype == np.float32 and not np.allclose(out, tone)


def test_a_tiny_model_trains_on_real_human_and_tts_speech_and_reloads_weights_only(tmp_path):
    humans = [h for h in voices.human_items() if h.group == "speaker:june"][:12]
    rendered = engines.render(engines.Voice("espeak", "fr"), [h.text for h in humans])
    audios = [voices.trimmed(voices.to_rate(voices.load_source(h), voices.source_rate(h))) for h in humans]
    audios += [voices.trimmed(voices.to_rate(a, engines.SAMPLE_RATE)) for a in rendered]
    labels = [0] * len(humans) + [1] * len(rendered)
    losses = []
    model = train(
        audios,
        labels,
        VerdictTrainConfig(epochs=2, width=4),
        on_epoch=lambda e, loss, _model: losses.append(loss),
    )
    assert len(losses) == 2 and all(np.isfinite(losses))
    model.save(tmp_path / "v.pt")
    again = VerdictModel.load(tmp_path / "v.pt")
    result = classify(again, audios[0], RATE)
    assert all(0 <= c["score"] <= 1 for c in result["clips"]) and set(result["verdicts"]) >= {"mean", "max"}


def test_the_built_in_model_loads_only_when_its_weights_match_the_card(tmp_path):
    card = json.loads((BUILTIN / f"{NAME}.json").read_text())
    assert card["held_out"]["engine_out"]["mean_eer"] <= 0.1  # the figures it shipped with
    assert isinstance(load_builtin(BUILTIN), VerdictModel)
    shutil.copy(BUILTIN / f"{NAME}.json", tmp_path)
    weights = bytearray((BUILTIN / f"{NAME}.pt").read_bytes())
    weights[len(weights) // 2] ^= 0xFF  # one byte of the weights changed
    (tmp_path / f"{NAME}.pt").write_bytes(bytes(weights))
    with pytest.raises(ValueError, match="sha256"):
        load_builtin(tmp_path)
