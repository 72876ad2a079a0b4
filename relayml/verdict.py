"""Synthetic or human: a clip classifier, its clip-by-clip verdicts and the heuristics over them.

The input is telephone-band speech (8 kHz; relayml.realdata.voices says why): 40 log-mel bands
every 10 ms, each band's mean over the clip removed (so a microphone's or a codec's colouring, a
constant offset per band, does not decide). A small CNN reads the bands and time, pools over the
clip's real frames (masked mean and max: clips vary in length) and gives one logit, `artificial`.

Audio longer than CLIP_S is cut into CLIP_S clips every HOP_S; each clip is scored, and a file's
verdict is a heuristic over its clips (seed 004): the mean score, the most synthetic clip, the
majority of clips, or the mean weighted by each clip's duration. A score >= 0.5 is `artificial`;
the confidence is the score's distance towards the chosen side (score, or 1 - score).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torchaudio
from torch import nn

from relayml.verdict_heuristics import DEFAULT_HEURISTIC, LABELS, combine, verdict

RATE = 8000
HOP = 80  # 10 ms
N_MELS = 40
CLIP_S = 4.0
HOP_S = 2.0
MIN_CLIP_S = 0.3
FORMAT = "relay-verdict"

MEL = torchaudio.transforms.MelSpectrogram(
    sample_rate=RATE, n_fft=256, hop_length=HOP, n_mels=N_MELS, f_min=50.0, f_max=3800.0
)


def features(audio: np.ndarray) -> torch.Tensor:
    """(N_MELS, frames): log-mel with each band's mean over the clip removed."""
    with torch.no_grad():
        mel = torch.log(MEL(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))) + 1e-6)
    return mel - mel.mean(dim=1, keepdim=True)


def clips(audio: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) samples of each clip: CLIP_S long every HOP_S; a shorter file is one clip."""
    n, size, hop = len(audio), int(CLIP_S * RATE), int(HOP_S * RATE)
    if n <= size:
        return [(0, n)]
    starts = list(range(0, n - size + 1, hop))
    if starts[-1] + size < n:
        starts.append(n - size)  # the tail, overlapping its neighbour
    return [(s, s + size) for s in starts]


class VerdictNet(nn.Module):
    """`outputs` 1: one logit for the second of two classes; more: one logit per class."""

    def __init__(self, width: int = 16, outputs: int = 1) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())

        self.body = nn.Sequential(
            block(1, width),
            nn.MaxPool2d(2),
            block(width, 2 * width),
            nn.MaxPool2d(2),
            block(2 * width, 4 * width),
        )
        self.head = nn.Linear(8 * width, outputs)

    def forward(self, x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """x (B, N_MELS, T), frames (B,) real lengths → (B,) logits (B, outputs) for several."""
        h = self.body(x.unsqueeze(1)).mean(dim=2)  # (B, C, T/4)
        valid = (torch.arange(h.shape[-1], device=h.device)[None, :] < (frames[:, None] + 3) // 4).float()
        mean = (h * valid[:, None]).sum(-1) / valid.sum(-1).clamp(min=1)[:, None]
        peak = h.masked_fill(valid[:, None] == 0, -1e4).max(-1).values
        out = self.head(torch.cat([mean, peak], dim=1))
        return out.squeeze(1) if out.shape[1] == 1 else out


def batch(feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    frames = torch.tensor([f.shape[1] for f in feats])
    x = torch.zeros(len(feats), N_MELS, int(frames.max()))
    for i, f in enumerate(feats):
        x[i, :, : f.shape[1]] = f
    return x, frames


VERDICT_CLASSES = LABELS  # human, artificial: a score is P(artificial)


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(B, classes) probabilities from VerdictNet's logits: one logit is the second of two classes."""
    if logits.dim() == 1:
        p = torch.sigmoid(logits)
        return torch.stack([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


@dataclass
class VerdictModel:
    """A clip classifier. The built-in verdict model's classes are VERDICT_CLASSES; a team's model
    (training task "classification") has its dataset's clip classes, and gives verdicts when those
    are the same two."""

    net: VerdictNet
    metrics: dict = field(default_factory=dict)
    width: int = 16
    classes: tuple[str, ...] = VERDICT_CLASSES

    @property
    def gives_verdicts(self) -> bool:
        return tuple(self.classes) == VERDICT_CLASSES

    def clip_probabilities(self, audio: np.ndarray, batch_size: int = 32) -> tuple[list, np.ndarray]:
        """The clips of 8 kHz `audio` ([start, end) samples) and each one's class probabilities."""
        spans = [(s, e) for s, e in clips(audio) if e - s >= MIN_CLIP_S * RATE] or [(0, len(audio))]
        self.net.eval()
        device = next(self.net.parameters()).device
        out: list[torch.Tensor] = []
        with torch.no_grad():
            for i in range(0, len(spans), batch_size):
                x, frames = batch([features(audio[s:e]) for s, e in spans[i : i + batch_size]])
                out.append(probabilities(self.net(x.to(device), frames.to(device))).cpu())
        return spans, torch.cat(out).numpy()

    def scores(self, audio: np.ndarray, batch_size: int = 32) -> list[dict]:
        """Each clip of 8 kHz `audio`: {index, start, end (seconds), score (P(second class))}."""
        spans, probs = self.clip_probabilities(audio, batch_size)
        return [
            {
                "index": k,
                "start": round(s / RATE, 3),
                "end": round(e / RATE, 3),
                "score": round(float(p[1]), 4),
            }
            for k, ((s, e), p) in enumerate(zip(spans, probs, strict=True))
        ]

    def save(self, path) -> None:
        torch.save({"format": FORMAT, "width": self.width, "state": self.net.state_dict(),
                    "metrics": self.metrics, "classes": list(self.classes)}, path)  # fmt: skip

    @classmethod
    def load(cls, path) -> VerdictModel:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("format") != FORMAT:
            raise ValueError(f"{path} is not a Relay clip classifier")
        classes = tuple(payload.get("classes") or VERDICT_CLASSES)
        net = VerdictNet(payload["width"], outputs(len(classes)))
        net.load_state_dict(payload["state"])
        net.eval()
        return cls(net, payload.get("metrics", {}), payload["width"], classes)


def outputs(n_classes: int) -> int:
    return 1 if n_classes == 2 else n_classes


def at_model_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    """Mono audio at `rate` as float32 at the model's RATE."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if rate == RATE:
        return audio
    return torchaudio.functional.resample(torch.from_numpy(audio), rate, RATE).numpy()


def classify(model: VerdictModel, audio: np.ndarray, rate: int) -> dict:
    """A file's clips and verdicts: {clips: [...], verdicts: {heuristic: {...}}, elapsed_ms}."""
    began = time.perf_counter()
    audio = at_model_rate(audio, rate)
    clip_scores = model.scores(audio)
    for c in clip_scores:
        c["verdict"] = verdict(c["score"], "clip")
    return {
        "clips": clip_scores,
        "verdicts": combine(clip_scores),
        "elapsed_ms": round((time.perf_counter() - began) * 1000),
    }


def equal_error_rate(scores: np.ndarray, labels: np.ndarray) -> float:
    """EER: where the share of humans called artificial equals the share of synthetic called human."""
    order = np.argsort(-scores, kind="stable")
    labels = labels[order].astype(bool)
    positives, negatives = labels.sum(), (~labels).sum()
    if not positives or not negatives:
        return float("nan")
    false_accept = np.concatenate([[0], np.cumsum(~labels)]) / negatives  # humans above the cut
    false_reject = 1 - np.concatenate([[0], np.cumsum(labels)]) / positives  # synthetic below it
    k = int(np.argmin(np.abs(false_accept - false_reject)))
    return float((false_accept[k] + false_reject[k]) / 2)


def classify_path(model: VerdictModel, path: str, limits=None, utterances: list[dict] | None = None) -> dict:
    """An audio file in any format the decoder reads: `classify`'s answer and its duration; with
    `utterances` ({start_ms, end_ms}), each one's own verdict as seed 001's deepfake posteriors
    ({"spoofed": p, "bonafide": 1 - p}; None for one too short to judge)."""
    from relayml.speech import SAMPLE_RATE, decode

    audio = decode(path, limits)
    mono = (audio[0] + audio[1]) / 2 if isinstance(audio, tuple) else audio
    if len(mono) < MIN_CLIP_S * SAMPLE_RATE:
        raise ValueError(f"too short to judge: at least {MIN_CLIP_S:g} s of audio is needed")
    result = {**classify(model, mono, SAMPLE_RATE), "duration_ms": round(len(mono) * 1000 / SAMPLE_RATE)}
    if utterances is not None:
        result["utterances"] = []
        for u in utterances:
            part = mono[u["start_ms"] * SAMPLE_RATE // 1000 : u["end_ms"] * SAMPLE_RATE // 1000]
            if len(part) < MIN_CLIP_S * SAMPLE_RATE:
                result["utterances"].append(None)
                continue
            p = classify(model, part, SAMPLE_RATE)["verdicts"][DEFAULT_HEURISTIC]["score"]
            result["utterances"].append({"spoofed": round(p, 4), "bonafide": round(1 - p, 4)})
    return result
