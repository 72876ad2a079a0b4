"""Training a detector on cached features and annotations, with per-epoch validation.

A training example is a chunk of `chunk_size_ms` whose frames are scored, seen together with
`context_ms` of audio on each side (a long pause is only "long" given what surrounds it). Chunks
start every `stride_ms`. Files, not chunks, are split into training and validation, so no audio
is on both sides (and whole voices, when the files name them: split_by_group). Class imbalance
is handled with a per-type positive weight in the loss.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from relayml import CODE_VERSION
from relayml.events import Event, average_precision, event_metrics, frames_to_targets, postprocess
from relayml.features import DEFAULT_FEATURES, FeatureParams
from relayml.ingest import current_features
from relayml.model import CRNN, Detector, ModelSpec
from relayml.psds import ScoredFile, psds

FRAME_MS = DEFAULT_FEATURES.frame_ms
# Consecutive chunks scored in one pass, sharing their context: the same chunks and overlap as
# one chunk per example, at a fraction of the cost (context is computed once per group).
CHUNKS_PER_WINDOW = 8
THRESHOLD_GRID = [round(0.1 + 0.05 * i, 2) for i in range(17)]  # 0.1 … 0.9, plain floats
# Per-type post-processing floors tried on validation (Trainer.choose_floors), and the F1 they must
# gain to be kept: about one event in fifty.
MERGE_FLOORS_MS = [0, 400, 800]
DURATION_FLOORS_MS = [0, 150, 300, 600]
FLOOR_GAIN = 0.02


class TrainingCancelled(Exception):
    pass


@dataclass
class TrainConfig:
    artifact_types: list[str]
    epochs: int = 20
    validation_split: float = 0.2
    learning_rate: float = 0.001
    batch_size: int = 32
    chunk_size_ms: int = 500
    stride_ms: int = 250
    context_ms: int = 1000
    min_target_ms: int = 60
    merge_window_ms: int = 200
    min_duration_ms: int = 50
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainFile:
    key: str
    features_path: str
    events: list[Event]
    duration_ms: int
    # Who is speaking, as "family:member" (e.g. "flite:awb"): files that share a group are kept on
    # one side of the split (split_files). Empty when unknown, as for a team's uploads.
    group: str = ""


@dataclass
class EpochReport:
    epoch: int
    train_loss: float
    val_loss: float | None
    val_f1: float | None
    seconds: float

    def to_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class TrainResult:
    model_path: Path
    history: list[dict]
    metrics: dict
    device: str
    train_files: list[str] = field(default_factory=list)
    validation_files: list[str] = field(default_factory=list)


# Below this many validation events of a type, its F1 says little (3 of 3 found prints 1.0).
MIN_TRUSTED_EVENTS = 20


def small_sample_warnings(per_type: dict[str, dict]) -> list[str]:
    """A warning for each type validated on too few events to trust, so 1.0 is never taken at face
    value; each type's entry also gets `trusted: false`."""
    warnings = []
    for name, m in per_type.items():
        m["trusted"] = m["support"] >= MIN_TRUSTED_EVENTS
        if not m["trusted"]:
            warnings.append(
                f"{name}: only {m['support']} validation event(s); at least {MIN_TRUSTED_EVENTS} are needed "
                "before these figures mean much. Annotate more audio of this type."
            )
    return warnings


def pick_device(requested: str | None = None) -> str:
    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def split_files(
    files: list[TrainFile], fraction: float, seed: int
) -> tuple[list[TrainFile], list[TrainFile]]:
    """Split by file; both sides get at least one file when there are two or more. Files that all
    name their voice are split by voice instead (split_by_group)."""
    if files and all(f.group for f in files):
        by_voice = split_by_group(files, fraction, seed)
        if by_voice[1]:  # else every engine has a single voice: none can be held out
            return by_voice
    order = sorted(files, key=lambda f: f.key)
    random.Random(seed).shuffle(order)
    n_val = min(len(order) - 1, max(1, round(len(order) * fraction))) if len(order) > 1 else 0
    return order[n_val:], order[:n_val]


def split_by_group(
    files: list[TrainFile], fraction: float, seed: int
) -> tuple[list[TrainFile], list[TrainFile]]:
    """Whole voices held out for validation, never a family's last one (every engine still trains).

    The detector is used on voices it never heard, and on them it draws false alarms its training
    voices do not: validated on voices it trained on, the best epoch, each type's calibration and
    the post-processing floors were chosen for the wrong audio (on the base model's held-out engine
    this split won at each of three seeds, micro F1 0.790 -> 0.828 on average: docs/benchmarks.md).
    Voices are taken in seeded order until about `fraction` of the files are held out (a voice that
    would overshoot that by half is passed)."""
    sizes = Counter(f.group for f in files)
    groups = sorted(sizes)
    random.Random(seed).shuffle(groups)
    family = lambda group: group.split(":")[0]  # noqa: E731
    in_training = Counter(family(g) for g in groups)
    target = max(1, round(len(files) * fraction))
    held: set[str] = set()
    n_held = 0
    for group in groups:
        if n_held >= target:
            break
        if in_training[family(group)] > 1 and n_held + sizes[group] <= 1.5 * target:
            held.add(group)
            in_training[family(group)] -= 1
            n_held += sizes[group]
    order = sorted(files, key=lambda f: f.key)
    return [f for f in order if f.group not in held], [f for f in order if f.group in held]


def load_file(
    f: TrainFile, types: list[str], min_target_ms: float, params: FeatureParams = DEFAULT_FEATURES
) -> tuple[np.ndarray, np.ndarray]:
    features = current_features(Path(f.features_path), params).astype(np.float32)
    targets = frames_to_targets(f.events, types, len(features), FRAME_MS, min_target_ms)
    return features, targets


class ChunkDataset(Dataset):
    """(context + chunk + context) frames in; the chunk's targets and a validity mask out."""

    def __init__(self, arrays, mean, std, chunk: int, stride: int, context: int):
        self.arrays = [((x - mean) / std, y) for x, y in arrays]
        chunk, stride = chunk * CHUNKS_PER_WINDOW, stride * CHUNKS_PER_WINDOW
        self.chunk, self.context = chunk, context
        self.index = [
            (i, s) for i, (x, _) in enumerate(self.arrays) for s in range(0, max(1, len(x)), stride)
        ]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item):
        i, start = self.index[item]
        x, y = self.arrays[i]
        return window(x, start - self.context, start + self.chunk + self.context), *chunk_targets(
            y, start, self.chunk
        )


def window(x: np.ndarray, start: int, end: int) -> torch.Tensor:
    """x[start:end], zero-padded (the normalised mean) where it runs off either end."""
    out = np.zeros((end - start, x.shape[1]), dtype=np.float32)
    lo, hi = max(0, start), min(len(x), end)
    if hi > lo:
        out[lo - start : hi - start] = x[lo:hi]
    return torch.from_numpy(out)


def chunk_targets(y: np.ndarray, start: int, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    target = np.zeros((chunk, y.shape[1]), dtype=np.float32)
    mask = np.zeros(chunk, dtype=np.float32)
    part = y[start : start + chunk]
    target[: len(part)], mask[: len(part)] = part, 1.0
    return torch.from_numpy(target), torch.from_numpy(mask)


def geometry_of(config: TrainConfig) -> dict:
    return {
        "frame_ms": FRAME_MS,
        "chunk_frames": max(1, round(config.chunk_size_ms / FRAME_MS)),
        "stride_frames": max(1, round(config.stride_ms / FRAME_MS)),
        "context_frames": round(config.context_ms / FRAME_MS),
        "min_target_ms": config.min_target_ms,
    }


@torch.no_grad()
def predict_scores(
    model: CRNN, features: np.ndarray, geometry: dict, device: str, batch_size: int = 64
) -> np.ndarray:
    """Frame probabilities (T, K) for normalised features, scored chunk by chunk with context."""
    chunk, context = geometry["chunk_frames"], geometry["context_frames"]
    span = chunk * CHUNKS_PER_WINDOW
    starts = list(range(0, len(features), span))
    out = np.zeros((len(features), model.spec.n_types), dtype=np.float32)
    for b in range(0, len(starts), batch_size):
        group = starts[b : b + batch_size]
        x = torch.stack([window(features, s - context, s + span + context) for s in group]).to(device)
        probs = torch.sigmoid(model(x).float())[:, context : context + span].cpu().numpy()
        for s, p in zip(group, probs, strict=True):
            n = min(span, len(features) - s)
            out[s : s + n] = p[:n]
    return out


def normalisation(arrays) -> tuple[np.ndarray, np.ndarray]:
    stacked = np.concatenate([x for x, _ in arrays])
    return stacked.mean(axis=0), stacked.std(axis=0) + 1e-3


def positive_weights(arrays) -> torch.Tensor:
    """sqrt(negatives / positives) per type, capped: rare types count more, without exploding."""
    targets = np.concatenate([y for _, y in arrays])
    pos = targets.sum(axis=0)
    neg = len(targets) - pos
    return torch.tensor(np.clip(np.sqrt(neg / np.maximum(pos, 1)), 1.0, 30.0), dtype=torch.float32)


def fine_tunable(base: Detector, types: list[str]) -> CRNN:
    """A model for `types` that starts from `base`: every layer copied, and the output row of each
    type the base knows; a type it does not know starts from scratch. It keeps the base's features."""
    model = CRNN(replace(base.model.spec, n_types=len(types)))
    state = {k: v for k, v in base.model.state_dict().items() if not k.startswith("head.")}
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        for k, name in enumerate(types):
            if name in base.artifact_types:
                j = base.artifact_types.index(name)
                model.head.weight[k] = base.model.head.weight[j]
                model.head.bias[k] = base.model.head.bias[j]
    return model


class Trainer:
    def __init__(
        self,
        files,
        config,
        out_dir,
        on_epoch=None,
        should_stop=None,
        device=None,
        base: Detector | None = None,
    ):
        self.config, self.out_dir = config, Path(out_dir)
        self.types = list(config.artifact_types)
        self.device = pick_device(device)
        self.on_epoch = on_epoch or (lambda report, progress: None)
        self.should_stop = should_stop or (lambda: False)
        self.geometry = geometry_of(config)
        seed_everything(config.seed)
        self.train_files, self.val_files = split_files(files, config.validation_split, config.seed)
        # A fine-tuned model reads the features its base was trained on, older ones included.
        self.params = base.features if base is not None else DEFAULT_FEATURES
        load = lambda f: load_file(f, self.types, config.min_target_ms, self.params)  # noqa: E731
        self.train_arrays = [load(f) for f in self.train_files]
        self.val_arrays = [load(f) for f in self.val_files]
        # A fine-tuned model keeps its base's floors unless its own validation says otherwise.
        self.floors: dict[str, dict[str, float]] = {
            name: floor for name, floor in (base.floors if base else {}).items() if name in self.types
        }
        if base is not None:  # its layers expect its own normalisation
            self.mean, self.std = base.mean.cpu().numpy(), base.std.cpu().numpy()
            self.model = fine_tunable(base, self.types).to(self.device)
        else:
            mean, std = normalisation(self.train_arrays)
            self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)
            spec = ModelSpec(n_mels=self.params.n_mels, n_detail=self.params.detail, n_types=len(self.types))
            self.model = CRNN(spec).to(self.device)

    def loader(self) -> DataLoader:
        g = self.geometry
        data = ChunkDataset(
            self.train_arrays, self.mean, self.std, g["chunk_frames"], g["stride_frames"], g["context_frames"]
        )
        generator = torch.Generator().manual_seed(self.config.seed)
        return DataLoader(data, batch_size=self.config.batch_size, shuffle=True, generator=generator)

    def run(self) -> TrainResult:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        loader = self.loader()
        optimiser = torch.optim.AdamW(
            self.model.parameters(), lr=self.config.learning_rate, weight_decay=1e-4
        )
        steps = max(1, self.config.epochs * len(loader))
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=self.config.learning_rate, total_steps=steps, pct_start=0.15
        )
        loss_fn = nn.BCEWithLogitsLoss(
            pos_weight=positive_weights(self.train_arrays).to(self.device), reduction="none"
        )
        history: list[dict] = []
        # -inf: with no validation files the score is -train_loss, which can be below -1.
        best: tuple[float, dict | None] = (float("-inf"), None)
        for epoch in range(1, self.config.epochs + 1):
            started = time.perf_counter()
            train_loss = self.train_epoch(loader, optimiser, schedule, loss_fn)
            val_loss, val_f1 = self.validate(loss_fn)
            report = EpochReport(epoch, train_loss, val_loss, val_f1, time.perf_counter() - started)
            history.append(report.to_dict())
            score = val_f1 if val_f1 is not None else -train_loss
            if score > best[0]:
                best = (score, {k: v.detach().clone() for k, v in self.model.state_dict().items()})
            self.checkpoint(epoch, optimiser, history)
            self.on_epoch(report, epoch / self.config.epochs)
        if best[1] is not None:
            self.model.load_state_dict(best[1])
        return self.finish(history)

    def train_epoch(self, loader, optimiser, schedule, loss_fn) -> float:
        self.model.train()
        total, count = 0.0, 0
        use_amp = self.device.startswith("cuda")
        for x, y, mask in loader:
            if self.should_stop():
                raise TrainingCancelled()
            x, y, mask = x.to(self.device), y.to(self.device), mask.to(self.device)
            context = self.geometry["context_frames"]
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_amp):
                logits = self.model(x)[:, context : context + y.shape[1]].float()
            loss = (loss_fn(logits, y).mean(dim=2) * mask).sum() / mask.sum().clamp_min(1)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
            optimiser.step()
            schedule.step()
            total, count = total + loss.item() * len(x), count + len(x)
        return total / max(1, count)

    def score_files(self, arrays) -> list[np.ndarray]:
        self.model.eval()
        return [
            predict_scores(self.model, (x - self.mean) / self.std, self.geometry, self.device)
            for x, _ in arrays
        ]

    def validate(self, loss_fn) -> tuple[float | None, float | None]:
        if not self.val_arrays:
            return None, None
        scores = self.score_files(self.val_arrays)
        losses = []
        for p, (_, y) in zip(scores, self.val_arrays, strict=True):
            logits = torch.logit(torch.from_numpy(p).clamp(1e-6, 1 - 1e-6)).to(self.device)
            losses.append(loss_fn(logits, torch.from_numpy(y).to(self.device)).mean().item())
        metrics = self.evaluate(scores, 0.5)
        return float(np.mean(losses)), metrics["overall"]["f1"]

    def evaluate(self, scores, thresholds, floors=None) -> dict:
        pairs = []
        for p, f in zip(scores, self.val_files, strict=True):
            found = postprocess(
                p, self.types, FRAME_MS, thresholds, self.config.merge_window_ms,
                self.config.min_duration_ms, f.duration_ms, floors,
            )  # fmt: skip
            pairs.append(([e for e in f.events if e.artifact_type in self.types], found))
        return event_metrics(pairs, self.types)

    def checkpoint(self, epoch: int, optimiser, history) -> None:
        state = {"epoch": epoch, "model": self.model.state_dict(), "optimiser": optimiser.state_dict(),
                 "history": history}  # fmt: skip
        torch.save(state, self.out_dir / "checkpoint.pt")

    def finish(self, history) -> TrainResult:
        metrics, thresholds = self.final_metrics()
        detector = Detector(
            model=self.model.cpu(),
            artifact_types=self.types,
            mean=torch.from_numpy(self.mean),
            std=torch.from_numpy(self.std),
            feature_params=self.params.to_dict(),
            geometry=self.geometry,
            thresholds=thresholds,
            floors=self.floors,
            metrics=metrics,
            code_version=CODE_VERSION,
        )
        path = self.out_dir / "model.pt"
        detector.save(path)
        (self.out_dir / "checkpoint.pt").unlink(missing_ok=True)
        return TrainResult(
            path, history, metrics, self.device,
            [f.key for f in self.train_files], [f.key for f in self.val_files],
        )  # fmt: skip

    def final_metrics(self) -> tuple[dict, dict[str, float]]:
        """Validation metrics at each type's best threshold, the thresholds, and frame-level AP."""
        if not self.val_arrays:
            return {"note": "no validation files: add more audio for metrics"}, dict.fromkeys(self.types, 0.5)
        raw_scores = self.score_files(self.val_arrays)
        raw = self.best_thresholds(raw_scores)
        raw_f1 = self.evaluate(raw_scores, raw)["per_type"]
        calibration = self.calibrate(raw)
        for name in self.types:
            calibration[name]["f1_at_raw_best"] = raw_f1[name]["f1"]
        scores = self.score_files(self.val_arrays)  # calibrated: each type's best point is near 0.5
        thresholds = self.best_thresholds(scores)
        self.floors = self.choose_floors(scores)
        metrics = self.evaluate(scores, thresholds, self.floors)
        default = self.evaluate(scores, 0.5, self.floors)
        all_scores = np.concatenate(scores)
        all_targets = np.concatenate([y for _, y in self.val_arrays])
        for k, name in enumerate(self.types):
            metrics["per_type"][name]["frame_ap"] = round_or_none(
                average_precision(all_scores[:, k], all_targets[:, k])
            )
            metrics["per_type"][name]["suggested_threshold"] = thresholds[name]
            metrics["per_type"][name]["f1_at_0_5"] = default["per_type"][name]["f1"]
        aps = [m["frame_ap"] for m in metrics["per_type"].values() if m["frame_ap"] is not None]
        metrics["overall"]["frame_ap"] = round(float(np.mean(aps)), 4) if aps else None
        add_psds(metrics, self.val_files, scores, self.types, self.config.min_target_ms)
        metrics["overall"]["f1_at_0_5"] = default["overall"]["f1"]
        metrics["validation_files"] = len(self.val_files)
        metrics["collars"] = {"onset_ms": 200, "offset_ms": 200, "offset_rate": 0.2}
        metrics["warnings"] = small_sample_warnings(metrics["per_type"])
        metrics["calibration"] = calibration
        metrics["postprocess_floors"] = self.floors
        return metrics, thresholds

    def choose_floors(self, scores: list[np.ndarray]) -> dict[str, dict[str, float]]:
        """Per type, the minimum merge window and duration that validation calls for, at 0.5.

        Frame scores of a long event can dip below the threshold in its middle (one pause reported
        as two) and short runs above it can be events of another kind (an ordinary pause is not a
        long one). Each type trusted by its validation events (MIN_TRUSTED_EVENTS) tries the grid;
        a floor is kept only when it gains at least FLOOR_GAIN F1 over none, so noise picks none.
        """
        floors = dict(self.floors)
        plain = self.evaluate(scores, 0.5)["per_type"]
        for name in self.types:
            if plain[name]["support"] < MIN_TRUSTED_EVENTS:
                continue
            grid = [(m, d) for m in MERGE_FLOORS_MS for d in DURATION_FLOORS_MS]
            scored = {pair: self.floor_f1(scores, name, *pair) for pair in grid}
            best = max(grid, key=lambda pair: (scored[pair], -pair[0], -pair[1]))
            floors.pop(name, None)
            if scored[best] >= plain[name]["f1"] + FLOOR_GAIN:
                floors[name] = {"merge_window_ms": best[0], "min_duration_ms": best[1]}
        return floors

    def floor_f1(self, scores: list[np.ndarray], name: str, merge_ms: int, shortest_ms: int) -> float:
        floor = {name: {"merge_window_ms": merge_ms, "min_duration_ms": shortest_ms}}
        return self.evaluate(scores, 0.5, floor)["per_type"][name]["f1"]

    def best_thresholds(self, scores: list[np.ndarray]) -> dict[str, float]:
        """Best validation F1 per type; among ties, the threshold nearest 0.5."""
        thresholds = {}
        for name in self.types:
            f1_at = {t: self.evaluate(scores, {name: t})["per_type"][name]["f1"] for t in THRESHOLD_GRID}
            thresholds[name] = max(THRESHOLD_GRID, key=lambda t: (f1_at[t], -abs(t - 0.5)))
        return thresholds

    def calibrate(self, best: dict[str, float]) -> dict[str, dict[str, float]]:
        """Shift each type's output bias so its best validation threshold becomes 0.5.

        Types learn at different rates (a rare click type ends under-confident, long pauses over-),
        so one default threshold suits some and not others. sigmoid(z - logit(t)) >= 0.5 exactly
        when sigmoid(z) >= t: the ranking and the best F1 stay as they were, and the contract's
        default 0.5 becomes each type's validated operating point. Baked into the head's bias, so
        every consumer of the model (inference, exports, fine-tuning) sees calibrated scores.
        """
        head = self.model.head
        calibration = {}
        with torch.no_grad():
            for k, name in enumerate(self.types):
                shift = float(np.log(best[name] / (1 - best[name])))
                head.bias[k] -= shift
                calibration[name] = {"raw_best_threshold": best[name], "logit_shift": round(-shift, 4)}
        return calibration


def add_psds(metrics: dict, files: list[TrainFile], scores: list[np.ndarray], types, min_target_ms) -> None:
    """PSDS (relayml.psds) beside event F1: per type, overall, and the criteria it was computed with."""
    scored = [ScoredFile(p, f.events) for p, f in zip(scores, files, strict=True)]
    result = psds(scored, types, FRAME_MS, min_target_ms)
    for name in types:
        metrics["per_type"][name]["psds"] = result["per_type"][name]
    metrics["overall"]["psds"] = result["overall"]
    metrics["psds_criteria"] = result["scenario"]


def round_or_none(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def train(
    files: list[TrainFile],
    config: TrainConfig,
    out_dir: str | os.PathLike,
    on_epoch: Callable[[EpochReport, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str | None = None,
    base_model: str | os.PathLike | None = None,
) -> TrainResult:
    """Train a detector on `files`, from scratch or fine-tuning the model file `base_model`."""
    if not files:
        raise ValueError("no audio files to train on")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    base = Detector.load(Path(base_model)) if base_model else None
    return Trainer(files, config, out_dir, on_epoch, should_stop, device, base).run()


__all__ = ["TrainConfig", "TrainFile", "TrainResult", "TrainingCancelled", "train"]
