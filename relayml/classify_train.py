"""A team's clip classifier: trained on a dataset's labelled segments, validated on held-out files.

A dataset declares clip classes (`human` / `artificial`, or generator names); a published set labels
whole files or segments of them with one. Each labelled segment is an example; files, not segments,
are split into training and validation (stratified by each file's main class, so every class is
validated when it has two files or more). The model is relayml.verdict's clip classifier, from
scratch or fine-tuned from a base model (the built-in verdict model, or a team's earlier one).

Metrics are per segment, the way a team will use the model: accuracy, per-class precision, recall
and F1, the equal error rate (two classes: of the second; more: the mean one-vs-rest EER) and the
ROC curve it is read from. Below MIN_TRUSTED_SEGMENTS validation segments of a class, a warning
says the figures mean little.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from relayml.train import EpochReport, TrainingCancelled, TrainResult
from relayml.verdict import RATE, VerdictModel, at_model_rate, equal_error_rate
from relayml.verdict_train import Cancelled, VerdictTrainConfig, train

MIN_TRUSTED_SEGMENTS = 20
ROC_POINTS = 50


@dataclass(frozen=True)
class Segment:
    start_ms: int
    end_ms: int
    label: str


@dataclass
class ClipFile:
    key: str
    path: str  # the canonical 16 kHz mono WAV (any rate soundfile reads)
    segments: list[Segment]


@dataclass
class ClassifierEpoch(EpochReport):
    val_accuracy: float | None
    val_eer: float | None


@dataclass(frozen=True)
class ClassifierConfig:
    classes: tuple[str, ...]
    epochs: int = 10
    validation_split: float = 0.2
    learning_rate: float = 0.002
    batch_size: int = 32
    seed: int = 0


def read_8k(path: str) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    return at_model_rate(audio.mean(axis=1), rate)


def examples(files: list[ClipFile], classes: tuple[str, ...]) -> tuple[list[np.ndarray], list[int]]:
    audios, labels = [], []
    for f in files:
        audio = read_8k(f.path)
        for seg in f.segments:
            part = audio[seg.start_ms * RATE // 1000 : seg.end_ms * RATE // 1000]
            if len(part) >= RATE // 4:  # a quarter second at least: shorter says nothing
                audios.append(part)
                labels.append(classes.index(seg.label))
    return audios, labels


def main_class(f: ClipFile) -> str:
    spans: dict[str, int] = {}
    for seg in f.segments:
        spans[seg.label] = spans.get(seg.label, 0) + seg.end_ms - seg.start_ms
    return max(sorted(spans), key=lambda c: spans[c])


def split_files(files: list[ClipFile], fraction: float, seed: int) -> tuple[list[ClipFile], list[ClipFile]]:
    """Per class: a `fraction` of its files (at least one when it has two) held out."""
    train_files, val_files = [], []
    by_class: dict[str, list[ClipFile]] = {}
    for f in sorted(files, key=lambda f: f.key):
        by_class.setdefault(main_class(f), []).append(f)
    for name in sorted(by_class):
        group = by_class[name]
        random.Random(f"{seed}:{name}").shuffle(group)
        n_val = min(len(group) - 1, max(1, round(len(group) * fraction))) if len(group) > 1 else 0
        val_files += group[:n_val]
        train_files += group[n_val:]
    return train_files, val_files


def segment_probabilities(model: VerdictModel, audios: list[np.ndarray]) -> np.ndarray:
    """(segments, classes): each segment's clips averaged, weighted by their length."""
    rows = []
    for audio in audios:
        spans, probs = model.clip_probabilities(audio)
        weights = np.array([e - s for s, e in spans], dtype=np.float64)
        rows.append((probs * weights[:, None]).sum(axis=0) / weights.sum())
    return np.array(rows).reshape(len(audios), len(model.classes))


def roc_curve(scores: np.ndarray, truth: np.ndarray) -> list[dict]:
    """ROC points (false positive rate, true positive rate) at up to ROC_POINTS thresholds."""
    positives, negatives = truth.sum(), (~truth).sum()
    if not positives or not negatives:
        return []
    order = np.argsort(-scores, kind="stable")
    tpr = np.concatenate([[0], np.cumsum(truth[order])]) / positives
    fpr = np.concatenate([[0], np.cumsum(~truth[order])]) / negatives
    keep = np.unique(np.linspace(0, len(tpr) - 1, min(len(tpr), ROC_POINTS)).round().astype(int))
    return [{"fpr": round(float(fpr[k]), 4), "tpr": round(float(tpr[k]), 4)} for k in keep]


def classification_metrics(probs: np.ndarray, labels: list[int], classes: tuple[str, ...]) -> dict:
    truth = np.array(labels, dtype=int)
    predicted = probs.argmax(axis=1) if len(truth) else truth
    per_class, eers = {}, []
    for k, name in enumerate(classes):
        hit = int(((predicted == k) & (truth == k)).sum())
        called, support = int((predicted == k).sum()), int((truth == k).sum())
        precision = hit / called if called else 0.0
        recall = hit / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                           "support": support, "trusted": support >= MIN_TRUSTED_SEGMENTS}  # fmt: skip
        eer = equal_error_rate(probs[:, k], truth == k) if len(truth) else float("nan")
        if not np.isnan(eer):
            eers.append(eer)
    positive = 1 if len(classes) == 2 else None  # two classes: the second's ROC; more: none drawn
    return {
        "accuracy": round(float((predicted == truth).mean()), 4) if len(truth) else None,
        "macro_f1": round(float(np.mean([m["f1"] for m in per_class.values()])), 4),
        "eer": round(float(eers[1] if positive and len(eers) == 2 else np.mean(eers)), 4) if eers else None,
        "per_class": per_class,
        "roc": roc_curve(probs[:, 1], truth == 1) if positive else [],
        "roc_positive_class": classes[1] if positive else None,
        "confusion": [
            [int(((truth == a) & (predicted == b)).sum()) for b in range(len(classes))]
            for a in range(len(classes))
        ],  # fmt: skip
        "validation_segments": len(truth),
    }


def warnings_for(metrics: dict) -> list[str]:
    if not metrics["validation_segments"]:
        return ["No validation segments: label at least two files of each class to measure the model."]
    return [
        f"{name}: only {m['support']} validation segment(s); at least {MIN_TRUSTED_SEGMENTS} are needed "
        "before these figures mean much. Label more audio of this class."
        for name, m in metrics["per_class"].items()
        if not m["trusted"]
    ]


def validation_loss(probs: np.ndarray, labels: list[int]) -> float | None:
    if not labels:
        return None
    picked = probs[np.arange(len(labels)), np.array(labels)]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


def train_classifier(
    files: list[ClipFile],
    config: ClassifierConfig,
    out_dir: str | os.PathLike,
    on_epoch: Callable[[EpochReport, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str = "cpu",
    base_model: str | os.PathLike | None = None,
) -> TrainResult:
    """Train on `files`' labelled segments; the model file, its validation metrics and the history."""
    if not files:
        raise ValueError("no labelled audio to train on")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    classes = config.classes
    train_files, val_files = split_files(files, config.validation_split, config.seed)
    train_audio, train_labels = examples(train_files, classes)
    val_audio, val_labels = examples(val_files, classes)
    if not train_audio:
        raise ValueError("no labelled segment is a quarter of a second long")
    history: list[dict] = []
    began = [time.perf_counter()]

    def epoch_done(epoch: int, loss: float, model: VerdictModel) -> None:
        probs = segment_probabilities(model, val_audio)
        m = classification_metrics(probs, val_labels, classes)
        # val_f1 is the macro F1 over classes, so the job page's curves read the same for both tasks.
        f1 = m["macro_f1"] if val_labels else None
        seconds = time.perf_counter() - began[0]
        report = ClassifierEpoch(
            epoch, loss, validation_loss(probs, val_labels), f1, seconds, m["accuracy"], m["eer"]
        )
        history.append(report.to_dict())
        began[0] = time.perf_counter()
        if on_epoch is not None:
            on_epoch(report, epoch / config.epochs)

    base = VerdictModel.load(base_model) if base_model else None
    train_config = VerdictTrainConfig(epochs=config.epochs, batch_size=config.batch_size,
                                      learning_rate=config.learning_rate, seed=config.seed)  # fmt: skip
    try:
        model = train(train_audio, train_labels, train_config, epoch_done, classes, base, device, should_stop)
    except Cancelled as exc:
        raise TrainingCancelled() from exc
    metrics = classification_metrics(segment_probabilities(model, val_audio), val_labels, classes)
    metrics.update(task="classification", classes=list(classes), warnings=warnings_for(metrics),
                   training_segments=len(train_labels), fine_tuned=base is not None)  # fmt: skip
    model.metrics = metrics
    model.net.to("cpu")
    path = Path(out_dir) / "model.pt"
    model.save(path)
    return TrainResult(
        path, history, metrics, device, [f.key for f in train_files], [f.key for f in val_files]
    )
