"""The detector: a small CRNN over log-mel frames, and its self-describing file.

Why a CRNN: artifacts are local in time and frequency (a click is a broadband flash, clipping
adds harmonics, a dropout is a hole), which convolutions over the spectrogram see well; whether a
silence is a *long* pause, or a burst is out of place, needs context along time, which a
bidirectional GRU gives. Time is pooled once, to 40 ms steps, well inside the 200 ms event
collars; the output is repeated back to the 10 ms feature frames. It is small (≈0.1 M
parameters), so it trains in minutes on two CPU cores.

The waveform-detail numbers of each frame (relayml.features.detail_features) do not go through the
convolutions, which treat their input as a picture of the spectrum: their maximum and mean over
each 40 ms step, through one small layer, join the convolutions' output as the GRU's input. The
maximum keeps a 5 ms splice that the pooled spectrum averages away.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from relayml.features import FeatureParams

FORMAT = "relay-detector"
FORMAT_VERSION = 1


@dataclass
class ModelSpec:
    n_mels: int = 64
    channels: tuple[int, ...] = (16, 32, 32)
    gru_hidden: int = 48
    n_types: int = 1
    # The first block also pools time by 4 (40 ms steps inside the network, 10 ms at the output):
    # the GRU runs a quarter of the steps, and there are still five steps per 200 ms collar.
    time_pool: int = 4
    n_detail: int = 0  # waveform-detail numbers after the n_mels log-mels of each frame
    detail_hidden: int = 16

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data


class CRNN(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        layers: list[nn.Module] = []
        previous, mels = 1, spec.n_mels
        for i, channels in enumerate(spec.channels):
            layers += [
                nn.Conv2d(previous, channels, kernel_size=3, padding=1),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=(spec.time_pool if i == 0 else 1, 2)),
            ]
            previous, mels = channels, mels // 2
        self.conv = nn.Sequential(*layers)
        detail_out = spec.detail_hidden if spec.n_detail else 0
        if spec.n_detail:
            self.detail = nn.Sequential(
                nn.Linear(2 * spec.n_detail, spec.detail_hidden), nn.ReLU(inplace=True)
            )
        self.gru = nn.GRU(previous * mels + detail_out, spec.gru_hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * spec.gru_hidden, spec.n_types)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(batch, frames, n_mels + n_detail) normalised features → (batch, frames, n_types) logits."""
        frames, pool, n_mels = features.shape[1], self.spec.time_pool, self.spec.n_mels
        if frames % pool:
            features = nn.functional.pad(features, (0, 0, 0, pool - frames % pool))
        x = self.conv(features[..., :n_mels].unsqueeze(1))  # (B, C, T / pool, F)
        b, c, t, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t, c * f)
        if self.spec.n_detail:
            steps = features[..., n_mels:].reshape(b, t, pool, self.spec.n_detail)
            x = torch.cat([x, self.detail(torch.cat([steps.amax(dim=2), steps.mean(dim=2)], dim=-1))], dim=-1)
        x, _ = self.gru(x)
        return self.head(x).repeat_interleave(pool, dim=1)[:, :frames]


@dataclass
class Detector:
    """A trained model with everything needed to use it on new audio."""

    model: CRNN
    artifact_types: list[str]
    mean: torch.Tensor  # per-mel normalisation
    std: torch.Tensor
    feature_params: dict
    geometry: dict  # chunk/context frames used in training and inference
    thresholds: dict[str, float] = field(default_factory=dict)
    # Per-type minimum merge window and duration learned on validation (relayml.events.postprocess).
    floors: dict[str, dict[str, float]] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    code_version: str = ""

    @property
    def features(self) -> FeatureParams:
        """The features it was trained on: inference and evaluation compute these for it."""
        return FeatureParams.from_dict(self.feature_params)

    def normalise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std

    def save(self, path: Path) -> None:
        """Only tensors and plain types, so the file loads with torch.load(weights_only=True)."""
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "code_version": self.code_version,
            "spec": self.model.spec.to_dict(),
            "state_dict": self.model.state_dict(),
            "artifact_types": list(self.artifact_types),
            "normalisation": {"mean": self.mean.cpu(), "std": self.std.cpu()},
            "feature_params": dict(self.feature_params),
            "geometry": dict(self.geometry),
            "thresholds": dict(self.thresholds),
            "floors": dict(self.floors),
            "metrics": self.metrics,
        }
        tmp = Path(str(path) + ".part")
        torch.save(payload, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> Detector:
        payload = torch.load(path, map_location=device, weights_only=True)
        if payload.get("format") != FORMAT:
            raise ValueError(f"{path} is not a Relay detector file")
        spec_data = dict(payload["spec"])
        spec_data["channels"] = tuple(spec_data["channels"])
        model = CRNN(ModelSpec(**spec_data))
        model.load_state_dict(payload["state_dict"])
        model.to(device).eval()
        return cls(
            model=model,
            artifact_types=list(payload["artifact_types"]),
            mean=payload["normalisation"]["mean"].to(device),
            std=payload["normalisation"]["std"].to(device),
            feature_params=payload["feature_params"],
            geometry=payload["geometry"],
            thresholds=payload["thresholds"],
            floors=payload.get("floors", {}),  # none in files from before they existed
            metrics=payload["metrics"],
            code_version=payload["code_version"],
        )
