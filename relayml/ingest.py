"""Ingest of one uploaded file: normalise it, then compute its features.

normalize(): decode → mono → 16 kHz → canonical PCM WAV, SHA-256 of the original, peaks.
embed(): canonical WAV → detector features (.npy, float16; relayml.features).
Both stream in blocks, so memory stays flat in the file's length.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from relayml.decode import AudioDecodeError, Limits, SourceInfo, iter_blocks, probe
from relayml.features import DEFAULT_FEATURES, SAMPLE_RATE, FeatureParams, LogMelStream, PeakStream

CANONICAL_NAME = "canonical.wav"
PEAKS_NAME = "peaks.npy"
FEATURES_NAME = "features.npy"
FEATURES_META_NAME = "features.json"


@dataclass(frozen=True)
class NormalizeResult:
    format: str
    content_type: str
    sample_rate: int
    channels: int
    num_samples: int  # at the canonical 16 kHz
    duration_ms: int
    size_bytes: int
    sha256: str

    def to_dict(self) -> dict:
        return asdict(self)


def sha256_of(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def iter_canonical(original: str, info: SourceInfo) -> Iterator[np.ndarray]:
    """The file's audio as 16 kHz mono float32 blocks, decoded and resampled as a stream."""
    from relayml.resample import StreamResampler  # torch: only where audio is processed, never the web

    resampler = StreamResampler(info.sample_rate, SAMPLE_RATE)
    mix = np.full(info.channels, 1.0 / info.channels, dtype=np.float32)
    for block in iter_blocks(original, info):
        # A matrix-vector product: several times faster than mean(axis=1) on interleaved frames.
        yield resampler.push(block @ mix)
    yield resampler.flush()


def normalize(
    original: str | os.PathLike, out_dir: str | os.PathLike, limits: Limits | None = None
) -> NormalizeResult:
    original, out_dir = str(original), Path(out_dir)
    info = probe(original, limits)
    out_dir.mkdir(parents=True, exist_ok=True)
    peaks = PeakStream()
    peak_parts: list[np.ndarray] = []
    total = 0
    tmp = out_dir / (CANONICAL_NAME + ".part")
    with sf.SoundFile(tmp, "w", SAMPLE_RATE, 1, subtype="PCM_16", format="WAV") as canonical:

        def write(samples: np.ndarray) -> None:
            nonlocal total
            samples = np.clip(samples, -1.0, 1.0)
            canonical.write(samples)
            peak_parts.append(peaks.push(samples))
            total += len(samples)

        for block in iter_canonical(original, info):
            write(block)
    if total == 0:
        tmp.unlink(missing_ok=True)
        raise AudioDecodeError("the file decodes to no audio at all")
    peak_parts.append(peaks.flush())
    np.save(out_dir / PEAKS_NAME, np.concatenate(peak_parts))
    os.replace(tmp, out_dir / CANONICAL_NAME)
    return NormalizeResult(
        format=info.format,
        content_type=info.content_type,
        sample_rate=info.sample_rate,
        channels=info.channels,
        num_samples=total,
        duration_ms=round(total * 1000 / SAMPLE_RATE),
        size_bytes=os.path.getsize(original),
        sha256=sha256_of(original),
    )


def embed(out_dir: str | os.PathLike, params: FeatureParams = DEFAULT_FEATURES) -> int:
    """Compute and cache features from the canonical audio; returns the frame count."""
    out_dir = Path(out_dir)
    features = computed_features(out_dir / CANONICAL_NAME, params)
    tmp = out_dir / (FEATURES_NAME + ".part.npy")
    np.save(tmp, features)
    os.replace(tmp, out_dir / FEATURES_NAME)
    meta = {"params": params.to_dict(), "frames": len(features), "dtype": "float16"}
    (out_dir / FEATURES_META_NAME).write_text(json.dumps(meta))
    return len(features)


def computed_features(canonical: Path, params: FeatureParams) -> np.ndarray:
    stream = LogMelStream(params)
    parts: list[np.ndarray] = []
    with sf.SoundFile(canonical) as audio:
        for block in audio.blocks(blocksize=SAMPLE_RATE * 30, dtype="float32"):
            parts.append(stream.push(block))
    parts.append(stream.flush())
    return np.concatenate(parts)


def current_features(path: Path, params: FeatureParams = DEFAULT_FEATURES) -> np.ndarray:
    """The features cached at `path` (a FEATURES_NAME beside its canonical audio) as `params` make
    them. Each feature version appends numbers to the last one's, so a model trained on older
    features (a team's, fine-tuned before a change) reads the first columns of newer ones. Audio
    ingested before a change has its cache brought up to date once, and trains like new audio."""
    cached = cached_params(path.parent)
    if cached is not None and older_or_same(params, cached):
        features = np.load(path)
        return features if cached == params else features[:, : params.width]
    canonical = path.parent / CANONICAL_NAME
    if not canonical.exists():
        return np.load(path)
    if params != DEFAULT_FEATURES:  # never cached: the cache holds what Relay computes now
        return computed_features(canonical, params)
    embed(path.parent, params)
    return np.load(path)


def cached_params(out_dir: Path) -> FeatureParams | None:
    try:
        return FeatureParams.from_dict(json.loads((out_dir / FEATURES_META_NAME).read_text())["params"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def older_or_same(wanted: FeatureParams, cached: FeatureParams) -> bool:
    """Whether `wanted` are the first columns of `cached`: the same log-mels, no more detail."""
    same_mels = replace(cached, detail=wanted.detail, version=wanted.version) == wanted
    return same_mels and wanted.detail <= cached.detail


def features_outdated(out_dir: Path, params: FeatureParams = DEFAULT_FEATURES) -> bool:
    """Whether the features in `out_dir` were computed with other parameters (or say nothing)."""
    return cached_params(out_dir) != params


def load_features(out_dir: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    return np.load(Path(out_dir) / FEATURES_NAME, mmap_mode="r" if mmap else None)


def load_peaks(out_dir: str | os.PathLike) -> np.ndarray:
    return np.load(Path(out_dir) / PEAKS_NAME)


def process(
    original: str | os.PathLike,
    out_dir: str | os.PathLike,
    on_normalized: Callable[[NormalizeResult], bool] = lambda result: True,
    params: FeatureParams = DEFAULT_FEATURES,
    limits: Limits | None = None,
) -> NormalizeResult | None:
    """normalize() then embed(); `on_normalized` returning False (file deleted) stops early."""
    result = normalize(original, out_dir, limits)
    if not on_normalized(result):
        return None
    embed(out_dir, params)
    return result
