"""Detector features and waveform peaks, both computed block by block over 16 kHz mono audio.

Frame t of the features covers samples [t * HOP, t * HOP + N_FFT) of the canonical audio
(no centring), so a time in ms maps to frame floor(ms / 10). Blocks are joined by carrying the
samples a frame still needs, so the result equals computing over the whole file at once.

A frame is its log-mel spectrum and, from version 2, `detail` numbers read off the waveform itself
(detail_features): the 25 ms log-mel window smears what a 1–5 ms splice, a clipped peak or a run
of identical samples leaves, and those are what glitch, clipping and dropout are made of.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class FeatureParams:
    sample_rate: int = SAMPLE_RATE
    n_fft: int = 400  # 25 ms window
    hop_length: int = 160  # 10 ms frames
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float = 8000.0
    log_floor: float = 1e-10
    detail: int = 0  # waveform-detail numbers appended to each frame (0: log-mels only, version 1)
    version: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def frame_ms(self) -> float:
        return 1000 * self.hop_length / self.sample_rate

    @property
    def width(self) -> int:
        """Numbers per frame."""
        return self.n_mels + self.detail

    @classmethod
    def from_dict(cls, data: dict) -> FeatureParams:
        """A model's or a cached file's parameters; those written before `detail` existed had none."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


DETAIL_FEATURES = 5
DEFAULT_FEATURES = FeatureParams(detail=DETAIL_FEATURES, version=2)


def frame_count(num_samples: int, params: FeatureParams = DEFAULT_FEATURES) -> int:
    return -(-num_samples // params.hop_length)


class LogMelStream:
    def __init__(self, params: FeatureParams = DEFAULT_FEATURES):
        # Imported here, not at the top: the web process reads feature parameters and peaks from this
        # module and must never load torch (hundreds of MB in every web worker).
        import torchaudio

        self.params = params
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=params.sample_rate,
            n_fft=params.n_fft,
            hop_length=params.hop_length,
            n_mels=params.n_mels,
            f_min=params.f_min,
            f_max=params.f_max,
            center=False,
            power=2.0,
        )
        self.carry = np.zeros(0, dtype=np.float32)
        self.samples_seen = 0
        self.frames_out = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        self.samples_seen += len(samples)
        buf = np.concatenate([self.carry, samples.astype(np.float32, copy=False)])
        p = self.params
        if len(buf) < p.n_fft:
            self.carry = buf
            return np.zeros((0, p.width), dtype=np.float16)
        frames = (len(buf) - p.n_fft) // p.hop_length + 1
        out = self._frames(buf[: (frames - 1) * p.hop_length + p.n_fft])
        self.carry = buf[frames * p.hop_length :]
        self.frames_out += frames
        return out

    def flush(self) -> np.ndarray:
        """Zero-pad the tail so every sample belongs to a frame: ceil(samples / hop) in all."""
        p = self.params
        missing = frame_count(self.samples_seen, p) - self.frames_out
        if missing <= 0:
            return np.zeros((0, p.width), dtype=np.float16)
        needed = (missing - 1) * p.hop_length + p.n_fft
        buf = np.pad(self.carry, (0, max(0, needed - len(self.carry))))[:needed]
        self.frames_out += missing
        self.carry = np.zeros(0, dtype=np.float32)
        return self._frames(buf)

    def _frames(self, buf: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            power = self.mel(torch.from_numpy(buf))
            logmel = torch.log(power.clamp_min(self.params.log_floor)).T.numpy()
        if self.params.detail:
            logmel = np.concatenate([logmel, detail_features(buf, len(logmel), self.params)], axis=1)
        return logmel.astype(np.float16)


def detail_features(buf: np.ndarray, frames: int, p: FeatureParams) -> np.ndarray:
    """What the waveform shows in the middle HOP samples of each frame's window (so the numbers
    line up with the log-mel frame), for `frames` frames of `buf` as LogMelStream cuts it:

    0. log10 of the peak |x|: how near full scale (clipping happens there);
    1. log10 of the largest |x[n] - x[n-1]|: a jump, as at a splice or a click;
    2. log10 of the largest second difference: a kink, as where two waveforms were joined;
    3. the share of samples within 2 % of the block's peak: flat tops (hard or soft clipping);
    4. the share of steps with no change at all: digital silence, held samples, clipped runs.

    About 0.4 s of CPU per hour of audio; bench/infer.py measures the whole path."""
    if p.detail != DETAIL_FEATURES:
        raise ValueError(f"{p.detail} detail features asked for; this version computes {DETAIL_FEATURES}")
    hop = p.hop_length
    start = (p.n_fft - hop) // 2  # the window's middle hop; two samples before it feed the differences
    x = buf[start - 2 : start + frames * hop].astype(np.float32, copy=False)
    d1 = x[1:] - x[:-1]
    d2 = np.abs(d1[1:] - d1[:-1]).reshape(frames, hop)
    d1 = np.abs(d1[1:], out=d1[1:]).reshape(frames, hop)
    x = np.abs(x[2:]).reshape(frames, hop)
    peak = x.max(axis=1)
    out = np.empty((frames, DETAIL_FEATURES), dtype=np.float32)
    out[:, 0] = np.log10(peak + 1e-5)
    out[:, 1] = np.log10(d1.max(axis=1) + 1e-5)
    out[:, 2] = np.log10(d2.max(axis=1) + 1e-5)
    flat_top = np.count_nonzero(x >= (0.98 * peak)[:, None], axis=1) / hop
    out[:, 3] = np.where(peak > 1e-3, flat_top, 0.0)  # a near-silent block has no tops to speak of
    out[:, 4] = np.count_nonzero(d1 < 1e-5, axis=1) / hop  # 16-bit audio's smallest step is 3e-5
    return out


def log_mel(samples: np.ndarray, params: FeatureParams = DEFAULT_FEATURES) -> np.ndarray:
    """Features of a whole signal at once (tests and small clips)."""
    stream = LogMelStream(params)
    return np.concatenate([stream.push(samples), stream.flush()])


PEAK_SAMPLES = 160  # one min/max pair per 10 ms at 16 kHz


class PeakStream:
    """Min/max pairs per PEAK_SAMPLES samples, as int8 (the audiowaveform 8-bit format)."""

    def __init__(self, samples_per_peak: int = PEAK_SAMPLES):
        self.spp = samples_per_peak
        self.carry = np.zeros(0, dtype=np.float32)

    def push(self, samples: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self.carry, samples])
        whole = len(buf) - len(buf) % self.spp
        self.carry = buf[whole:]
        return self._pairs(buf[:whole])

    def flush(self) -> np.ndarray:
        tail, self.carry = self.carry, np.zeros(0, dtype=np.float32)
        return self._pairs(tail) if len(tail) else np.zeros((0, 2), dtype=np.int8)

    def _pairs(self, buf: np.ndarray) -> np.ndarray:
        if len(buf) == 0:
            return np.zeros((0, 2), dtype=np.int8)
        pad = -len(buf) % self.spp
        frames = np.pad(buf, (0, pad), mode="edge").reshape(-1, self.spp)
        pairs = np.stack([frames.min(axis=1), frames.max(axis=1)], axis=1)
        return np.clip(np.round(pairs * 127), -128, 127).astype(np.int8)


def downsample_peaks(pairs: np.ndarray, factor: int) -> np.ndarray:
    """Merge `factor` consecutive min/max pairs into one (zooming out on the server)."""
    if factor <= 1:
        return pairs
    pad = -len(pairs) % factor
    if pad:
        pairs = np.concatenate([pairs, np.repeat(pairs[-1:], pad, axis=0)])
    grouped = pairs.reshape(-1, factor, 2)
    return np.stack([grouped[:, :, 0].min(axis=1), grouped[:, :, 1].max(axis=1)], axis=1)
