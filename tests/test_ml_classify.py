"""A team's clip classifier (relayml.classify_train): real human prompts and real TTS renders,
labelled by file and by segment, split by file, measured per segment (accuracy, per-class
precision/recall, EER, ROC), fine-tuned from the built-in verdict model or trained from scratch."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from relayml.classify_train import (
    ClassifierConfig,
    ClipFile,
    Segment,
    classification_metrics,
    roc_curve,
    split_files,
    train_classifier,
)
from relayml.realdata import engines, voices
from relayml.train import TrainingCancelled
from relayml.verdict import VerdictModel, classify
from relayml.verdict_train import start_from
from tests.conftest import ROOT

VERDICT = ROOT / "relayml" / "builtin" / "verdict-v1.pt"
PER_CLASS = 8


def wav_file(folder, name: str, audio: np.ndarray, rate: int) -> tuple[str, int]:
    path = folder / f"{name}.wav"
    sf.write(path, audio, rate, subtype="PCM_16")
    return str(path), len(audio) * 1000 // rate


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """PER_CLASS human prompts (one speaker) and the same texts by flite and by espeak-ng, as files."""
    folder = tmp_path_factory.mktemp("speech")
    humans = [h for h in voices.human_items() if h.group == "speaker:allison"][:PER_CLASS]
    texts = [h.text for h in humans]
    out: dict[str, list[tuple[str, int]]] = {"human": [], "flite": [], "espeak": []}
    for i, h in enumerate(humans):
        out["human"].append(wav_file(folder, f"human{i}", voices.load_source(h), voices.source_rate(h)))
    for engine, voice in (
        ("flite", engines.Voice("flite", "slt")),
        ("espeak", engines.Voice("espeak", "en-us")),
    ):
        for i, audio in enumerate(engines.render(voice, texts)):
            out[engine].append(wav_file(folder, f"{engine}{i}", audio, engines.SAMPLE_RATE))
    return out


def whole_files(speech, labels: dict[str, str]) -> list[ClipFile]:
    """Each file of speech[source] labelled whole with labels[source]."""
    return [
        ClipFile(f"{source}{i}", path, [Segment(0, ms, label)])
        for source, label in labels.items()
        for i, (path, ms) in enumerate(speech[source])
    ]


def test_fine_tuning_the_verdict_model_on_a_teams_files_gives_a_model_that_tells_them_apart(speech, tmp_path):
    files = whole_files(speech, {"human": "human", "flite": "artificial"})
    epochs = []
    result = train_classifier(
        files, ClassifierConfig(classes=("human", "artificial"), epochs=2, validation_split=0.25), tmp_path,
        on_epoch=lambda report, progress: epochs.append((report.to_dict(), progress)), base_model=VERDICT,
    )  # fmt: skip
    m = result.metrics
    assert m["task"] == "classification" and m["classes"] == ["human", "artificial"] and m["fine_tuned"]
    assert m["validation_segments"] == 4 and set(result.validation_files).isdisjoint(result.train_files)
    assert m["accuracy"] >= 0.75 and m["eer"] <= 0.25
    assert set(m["per_class"]) == {"human", "artificial"} and m["per_class"]["human"]["support"] == 2
    assert m["roc"][0] == {"fpr": 0.0, "tpr": 0.0} and m["roc"][-1] == {"fpr": 1.0, "tpr": 1.0}
    assert any("only 2 validation segment" in w for w in m["warnings"])  # too few to trust, and said so
    assert [e["epoch"] for e, _ in epochs] == [1, 2] and epochs[-1][1] == 1.0
    assert {"val_accuracy", "val_eer", "val_f1", "val_loss"} <= set(epochs[-1][0])
    model = VerdictModel.load(result.model_path)  # weights only, its classes with it
    assert model.classes == ("human", "artificial") and model.gives_verdicts
    audio, rate = sf.read(speech["flite"][0][0], dtype="float32")
    assert classify(model, audio, rate)["verdicts"]["mean"]["classification"] == "artificial"


def test_fine_tuning_starts_from_the_base_weights_and_a_new_class_list_gets_a_new_head():
    base = VerdictModel.load(VERDICT)
    same = start_from(base, 16, 2)
    assert all(torch.equal(same.state_dict()[k], v) for k, v in base.net.state_dict().items())
    three = start_from(base, 16, 3)
    body = [k for k in base.net.state_dict() if not k.startswith("head.")]
    assert all(torch.equal(three.state_dict()[k], base.net.state_dict()[k]) for k in body)
    assert three.head.weight.shape == (3, base.net.head.in_features)


def test_several_classes_and_labelled_segments_train_a_softmax_classifier(speech, tmp_path):
    # One more file holds two segments of different classes: human speech, then an espeak render.
    human, rate = sf.read(speech["human"][0][0], dtype="float32")
    tts, tts_rate = sf.read(speech["espeak"][0][0], dtype="float32")
    human, tts = voices.to_rate(human, rate), voices.to_rate(tts, tts_rate)  # both at 8 kHz
    path, ms = wav_file(tmp_path, "mixed", np.concatenate([human, tts]), voices.RATE)
    split = len(human) * 1000 // voices.RATE
    files = whole_files(speech, {"human": "human", "flite": "flite", "espeak": "espeak"})
    files.append(ClipFile("mixed", path, [Segment(0, split, "human"), Segment(split, ms, "espeak")]))
    result = train_classifier(
        files, ClassifierConfig(classes=("human", "flite", "espeak"), epochs=2), tmp_path
    )
    m = result.metrics
    assert m["classes"] == ["human", "flite", "espeak"] and not m["fine_tuned"]
    assert len(m["confusion"]) == 3 and sum(map(sum, m["confusion"])) == m["validation_segments"]
    assert m["roc"] == [] and m["roc_positive_class"] is None  # several classes: a mean one-vs-rest EER
    assert m["eer"] is not None and 0 <= m["eer"] <= 1
    assert VerdictModel.load(result.model_path).classes == ("human", "flite", "espeak")


def test_files_are_split_per_class_so_every_class_is_validated():
    files = [ClipFile(f"{c}{i}", "-", [Segment(0, 1000, c)]) for c in ("a", "b") for i in range(5)]
    files.append(ClipFile("c0", "-", [Segment(0, 1000, "c")]))  # one file: it can only train
    train_files, val_files = split_files(files, 0.2, seed=0)
    assert sorted(f.key[0] for f in val_files) == ["a", "b"] and {f.key for f in train_files} >= {"c0"}
    assert split_files(files, 0.2, seed=0) == (train_files, val_files)  # seeded


def test_the_metrics_read_as_their_names_say():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    m = classification_metrics(probs, [0, 0, 1, 1], ("human", "artificial"))
    assert m["accuracy"] == 0.75 and m["confusion"] == [[2, 0], [1, 1]]
    assert m["per_class"]["artificial"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2,
                                           "trusted": False}  # fmt: skip
    assert m["eer"] == 0.0  # the scores still rank every artificial segment above every human one
    assert roc_curve(np.array([0.1, 0.9]), np.array([False, True])) == [
        {"fpr": 0.0, "tpr": 0.0}, {"fpr": 0.0, "tpr": 1.0}, {"fpr": 1.0, "tpr": 1.0}
    ]  # fmt: skip


def test_training_stops_when_asked(speech, tmp_path):
    files = whole_files(speech, {"human": "human", "flite": "artificial"})
    with pytest.raises(TrainingCancelled):
        train_classifier(
            files, ClassifierConfig(classes=("human", "artificial")), tmp_path, should_stop=lambda: True
        )
