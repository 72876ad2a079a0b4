"""Training and evaluating the verdict model (relayml.verdict) on labelled 8 kHz audio.

Augmentation is the same for both classes and is what keeps the model off shortcuts: noise at
20–45 dB SNR (white or pink) and G.711 mu-law companding each on half the clips, so neither a codec's
hiss nor a studio's silence says human. Clips of a file always stay on one side of a split.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from relayml.verdict import (
    DEFAULT_HEURISTIC,
    RATE,
    VERDICT_CLASSES,
    VerdictModel,
    VerdictNet,
    batch,
    classify,
    clips,
    equal_error_rate,
    features,
    outputs,
)


@dataclass(frozen=True)
class VerdictTrainConfig:
    epochs: int = 4
    batch_size: int = 32
    learning_rate: float = 0.002
    width: int = 16
    seed: int = 0


def mu_law(audio: np.ndarray) -> np.ndarray:
    """Through 8-bit G.711 mu-law and back, as a phone line does."""
    mu = 255.0
    x = np.clip(audio, -1, 1)
    coded = np.round((np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu) + 1) / 2 * mu)
    y = coded / mu * 2 - 1
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)


def noise(rng: np.random.Generator, n: int) -> np.ndarray:
    white = rng.standard_normal(n).astype(np.float32)
    if rng.random() < 0.5:
        return white
    spectrum = np.fft.rfft(white) / np.sqrt(np.arange(1, n // 2 + 2))  # 1/f power: pink
    return np.fft.irfft(spectrum, n).astype(np.float32)


def augment(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = (audio * 10 ** (rng.uniform(-6, 6) / 20)).astype(np.float32)
    if rng.random() < 0.5:
        hiss = noise(rng, len(out))
        power = float(np.mean(out**2)) + 1e-9
        snr_db = rng.uniform(20, 45)
        scale = np.sqrt(power / (np.mean(hiss**2) + 1e-12) / 10 ** (snr_db / 10))
        out = (out + hiss * scale).astype(np.float32)
    if rng.random() < 0.5:
        out = mu_law(out)
    return out.astype(np.float32)


def clip_set(audios: list[np.ndarray], labels: list[int]) -> list[tuple[np.ndarray, int]]:
    return [
        (a[s:e], y) for a, y in zip(audios, labels, strict=True) for s, e in clips(a) if e - s >= RATE // 4
    ]


class Cancelled(Exception):
    """should_stop said so between batches."""


def start_from(base: VerdictModel | None, width: int, n_classes: int) -> VerdictNet:
    """A fresh net, or the base model's: its body always, its head when the classes are the same
    (fine-tuning the built-in verdict model on a team's own human and TTS audio)."""
    net = VerdictNet(base.width if base else width, outputs(n_classes))
    if base is not None:
        state = {k: v for k, v in base.net.state_dict().items()
                 if not k.startswith("head.") or len(base.classes) == n_classes}  # fmt: skip
        net.load_state_dict(state, strict=False)
    return net


def loss_for(examples: list[tuple[np.ndarray, int]], n_classes: int) -> nn.Module:
    """Balanced classes: each class weighs the same in the loss however many clips it has."""
    counts = np.bincount([y for _, y in examples], minlength=n_classes).astype(np.float32)
    if n_classes == 2:
        return nn.BCEWithLogitsLoss(pos_weight=torch.tensor(counts[0] / max(counts[1], 1)))
    weights = counts.sum() / np.maximum(counts, 1) / n_classes
    return nn.CrossEntropyLoss(weight=torch.from_numpy(weights))


def targets(labels: list[int], n_classes: int) -> torch.Tensor:
    return torch.tensor(labels, dtype=torch.float32 if n_classes == 2 else torch.long)


def train(
    audios: list[np.ndarray],
    labels: list[int],
    config: VerdictTrainConfig = VerdictTrainConfig(),
    on_epoch: Callable[[int, float, VerdictModel], None] | None = None,
    classes: tuple[str, ...] = VERDICT_CLASSES,
    base: VerdictModel | None = None,
    device: str = "cpu",
    should_stop: Callable[[], bool] | None = None,
) -> VerdictModel:
    """A model from 8 kHz files labelled with indices into `classes` (the verdict model's: 1 is
    artificial, 0 human), from scratch or from `base`. `on_epoch(epoch, mean loss, model)` may score
    held-out audio with the model as it is (it is put back in training mode after)."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    order = random.Random(config.seed)
    examples = clip_set(audios, labels)
    net = start_from(base, config.width, len(classes)).to(device)
    model = VerdictModel(net, width=net.head.in_features // 8, classes=tuple(classes))
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    steps = config.epochs * ((len(examples) + config.batch_size - 1) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.learning_rate, total_steps=max(steps, 1))
    loss_fn = loss_for(examples, len(classes)).to(device)
    for epoch in range(config.epochs):
        net.train()
        # Similar lengths batched together: little padding, the same batches' shapes each epoch.
        by_length = sorted(range(len(examples)), key=lambda i: len(examples[i][0]))
        batches = [by_length[i : i + config.batch_size] for i in range(0, len(by_length), config.batch_size)]
        order.shuffle(batches)
        losses = []
        for chosen in batches:
            if should_stop is not None and should_stop():
                raise Cancelled()
            x, frames = batch([features(augment(examples[i][0], rng)) for i in chosen])
            y = targets([examples[i][1] for i in chosen], len(classes)).to(device)
            loss = loss_fn(net(x.to(device), frames.to(device)), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        if on_epoch is not None:
            on_epoch(epoch + 1, float(np.mean(losses)), model)
    net.eval()
    return model


def evaluate(model: VerdictModel, audios: list[np.ndarray], labels: list[int]) -> dict:
    """File-level EER and accuracy at 0.5 under the default heuristic, and scoring speed."""
    began = time.perf_counter()
    scores = np.array([classify(model, a, RATE)["verdicts"][DEFAULT_HEURISTIC]["score"] for a in audios])
    seconds = time.perf_counter() - began
    truth = np.array(labels)
    audio_s = sum(len(a) for a in audios) / RATE
    return {
        "files": len(audios),
        "eer": round(equal_error_rate(scores, truth), 4),
        "accuracy": round(float(((scores >= 0.5) == truth).mean()), 4),
        "x_real_time": round(audio_s / max(seconds, 1e-9), 1),
    }
