"""Why the verdict model judged a span of audio as it did: occlusion over its log-mel input.

The same method as a detection's explanation (relayml.explain): hide a patch of the model's input,
score again, and see how much the probability of the class it chose falls. The input is what the
verdict model reads (relayml.verdict: 40 log-mel bands every 10 ms at 8 kHz, each band's mean over
the span removed), the span scored as one clip; a hidden patch's cells take the span's quietest
level in each band. Patches are wider in time than a detection's (a voice's character is spread
over syllables, not a 10 ms click), which also keeps a 30 s span to a few hundred passes.
"""

from __future__ import annotations

import numpy as np
import torch

from relayml.decode import Limits, probe
from relayml.explain import BATCH, MAX_SPAN_MS, Explanation, importance_map, mask_of, mel_centres
from relayml.ingest import SAMPLE_RATE, iter_canonical
from relayml.spectrogram import file_ceiling, window
from relayml.verdict import (
    MEL,
    MIN_CLIP_S,
    N_MELS,
    RATE,
    VerdictModel,
    at_model_rate,
    features,
    probabilities,
)

PATCH_BANDS = 8
PATCH_FRAMES = 10
FRAME_MS = 1000 * 80 / RATE  # relayml.verdict's hop: 10 ms
TARGET = "verdict"


def span_audio(path: str, start_ms: int, end_ms: int, limits: Limits | None) -> np.ndarray:
    """[start_ms, end_ms) of the file at 8 kHz; decoding stops once the span is complete."""
    parts, have, last = [], 0, end_ms * SAMPLE_RATE // 1000
    for block in iter_canonical(path, probe(path, limits)):
        parts.append(np.clip(block, -1.0, 1.0))
        have += len(block)
        if have >= last:
            break
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return at_model_rate(audio[start_ms * SAMPLE_RATE // 1000 : last], SAMPLE_RATE)


def class_probabilities(model: VerdictModel, batch: torch.Tensor) -> torch.Tensor:
    frames = torch.full((len(batch),), batch.shape[-1])
    device = next(model.net.parameters()).device
    return probabilities(model.net(batch.to(device), frames.to(device))).cpu()


def explain_verdict(
    model: VerdictModel, path: str, start_ms: int, end_ms: int, limits: Limits | None = None
) -> Explanation:
    if not 0 <= start_ms < end_ms or end_ms - start_ms > MAX_SPAN_MS:
        raise ValueError(f"the span must be up to {MAX_SPAN_MS // 1000} s long")
    audio = span_audio(path, start_ms, end_ms, limits)
    if len(audio) < MIN_CLIP_S * RATE:
        raise ValueError(f"the span holds under {MIN_CLIP_S:g} s of audio: too short to judge")
    model.net.eval()
    x = features(audio)  # (bands, frames)
    fill = x.min(dim=1).values
    patches = [(b, t) for b in range(0, N_MELS, PATCH_BANDS) for t in range(0, x.shape[1], PATCH_FRAMES)]
    with torch.inference_mode():
        base = class_probabilities(model, x.unsqueeze(0))[0]
        chosen = int(base.argmax())
        falls: list[float] = []
        for start in range(0, len(patches), BATCH):
            batch = x.repeat(len(patches[start : start + BATCH]), 1, 1)
            for row, (b, t) in enumerate(patches[start : start + BATCH]):
                batch[row, b : b + PATCH_BANDS, t : t + PATCH_FRAMES] = fill[b : b + PATCH_BANDS, None]
            falls.extend((base[chosen] - class_probabilities(model, batch)[:, chosen]).tolist())
    importance = importance_map(patches, falls, (N_MELS, x.shape[1]), (PATCH_BANDS, PATCH_FRAMES))
    with torch.no_grad():
        mels = torch.log(MEL(torch.from_numpy(audio)) + 1e-6).T.numpy()  # (frames, bands), for drawing
    order = sorted(range(len(model.classes)), key=lambda k: -float(base[k]))
    return Explanation(
        artifact_type=model.classes[chosen],
        score=float(base[chosen]),
        first_frame=round(start_ms / FRAME_MS),
        frame_ms=FRAME_MS,
        importance=importance,
        mask=mask_of(importance),
        image=window(mels, 0, len(mels), len(mels), file_ceiling(mels)),
        mel_hz=mel_centres(N_MELS, float(MEL.f_min), float(MEL.f_max or RATE / 2)),
        predictions=[{"label": model.classes[k], "score": round(float(base[k]), 4)} for k in order],
        model_type="audioClassification",
        patch=(PATCH_BANDS, PATCH_FRAMES),
    )
