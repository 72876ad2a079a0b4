"""The channel between the TTS engine and the file a team uploads, in three stages.

- room: room tone in every pause (digital silence, hiss, pink noise or mains hum at -75…-50 dBFS),
  a synthetic room (impulse response: direct path plus exponentially decaying noise, RT60
  0.15–0.6 s), and noise of a colour (white, pink, brown) or hum at 5–35 dB SNR;
- transport: a speech codec leg (Opus 16–24 kbps or MP3 32 kbps) where packets get lost;
- delivery: gain, resampling to 8/16/22.05/24/44.1 kHz and the file format; half the files are
  lossless (WAV, FLAC), half lossy (MP3 32–128 kbps, Opus 16–48 kbps in Ogg, AAC 64–128 kbps in
  M4A). ADTS .aac is never used: Debian's ffmpeg decodes it with its encoder delay, so labels
  would drift by up to 190 samples; MP3 (LAME header), Ogg Opus and M4A decode sample-aligned.

Every random draw comes from the clip's channel seed, so a clip and its reference (the same clip
without its events) pass through the identical channel.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from relayml import synth
from relayml.decode import probe
from relayml.ingest import iter_canonical

SAMPLE_RATE = synth.SAMPLE_RATE
RATES = (8000, 16000, 22050, 24000, 44100)
OPUS_RATES = (8000, 16000, 24000, 48000)  # the rates libopus accepts
LOSSY = {"mp3": (32, 128), "opus": (16, 48), "aac": (64, 128)}
ENCODERS = {"mp3": ("libmp3lame", "mp3"), "opus": ("libopus", "ogg"), "aac": ("aac", "m4a")}
TONES = ("silence", "hiss", "pink", "hum")


@dataclass
class Channel:
    seed: int
    room_tone: str = "silence"
    room_tone_dbfs: float = -90.0
    rt60_s: float = 0.0  # 0: no reverb
    direct_to_reverb_db: float = 6.0
    noise: str = ""  # "", white, pink, brown, hum
    snr_db: float = 99.0
    hum_hz: int = 50
    transport: str = ""  # "", "opus:16", "mp3:32", …
    peak_dbfs: float = -3.0
    rate: int = SAMPLE_RATE
    delivery: str = "wav"  # wav, flac, mp3, opus, aac
    bitrate_kbps: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def draw_channel(rng: np.random.Generator, lossy_delivery: bool, needs_transport: bool) -> Channel:
    """A channel as real deliveries vary: most stages present only some of the time."""
    channel = Channel(seed=int(rng.integers(0, 2**31)))
    channel.room_tone = str(rng.choice(TONES))
    channel.room_tone_dbfs = float(rng.uniform(-75, -50))
    if rng.random() < 0.3:
        channel.rt60_s, channel.direct_to_reverb_db = float(rng.uniform(0.15, 0.6)), float(rng.uniform(0, 12))
    if rng.random() < 0.6:
        channel.noise = str(rng.choice(["white", "pink", "brown", "hum"]))
        channel.snr_db = float(rng.uniform(5, 35))
    channel.hum_hz = int(rng.choice([50, 60]))
    if needs_transport or rng.random() < 0.25:
        channel.transport = str(rng.choice(["opus:16", "opus:24", "mp3:32"]))
    channel.peak_dbfs = float(rng.uniform(-20, -1))
    fmt = str(rng.choice(list(LOSSY))) if lossy_delivery else str(rng.choice(["wav", "flac"]))
    return with_format(channel, fmt, rng)


def with_format(channel: Channel, fmt: str, rng: np.random.Generator) -> Channel:
    """The channel delivering as `fmt`, at a typical bitrate and a rate the format takes."""
    channel.delivery = fmt
    low, high = LOSSY.get(fmt, (0, 0))
    channel.bitrate_kbps = int(rng.integers(low // 8, high // 8 + 1)) * 8 if fmt in LOSSY else 0
    channel.rate = int(rng.choice(OPUS_RATES if fmt == "opus" else RATES))
    return channel


# --- room -------------------------------------------------------------------------------------


def coloured(rng: np.random.Generator, n: int, colour: str, hum_hz: int) -> np.ndarray:
    """Unit-RMS noise: white, pink (1/f), brown (1/f²), or hum (mains and harmonics, wavering)."""
    if colour == "hum":
        t = np.arange(n) / SAMPLE_RATE
        hum = sum(
            rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * k * hum_hz * t + rng.uniform(0, 2 * np.pi))
            for k in range(1, 8)
        )
        out = np.asarray(hum) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t))
    else:
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
        exponent = {"white": 0.0, "hiss": 0.0, "pink": 0.5, "brown": 1.0}[colour]
        out = np.fft.irfft(spectrum / freqs**exponent, n)
    return (out / (np.sqrt(np.mean(out**2)) + 1e-12)).astype(np.float32)


def impulse_response(rng: np.random.Generator, rt60_s: float, drr_db: float) -> np.ndarray:
    """Direct path at lag 0 (timing unchanged) plus exponentially decaying noise after 2–8 ms."""
    n = int(rt60_s * SAMPLE_RATE)
    delay = int(rng.integers(2, 9)) * synth.SAMPLES_PER_MS
    tail = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    tail *= 10 ** (-drr_db / 20) / np.sqrt(np.sum(tail**2))
    rir = np.zeros(delay + n, dtype=np.float32)
    rir[0] = 1.0
    rir[delay:] += tail.astype(np.float32)
    return rir


def room(audio: np.ndarray, channel: Channel, speech_power: float) -> np.ndarray:
    rng = np.random.default_rng(channel.seed)
    out = audio.copy()
    if channel.room_tone != "silence":
        out += coloured(rng, len(out), channel.room_tone, channel.hum_hz) * 10 ** (
            channel.room_tone_dbfs / 20
        )
    if channel.rt60_s > 0:
        rir = torch.from_numpy(impulse_response(rng, channel.rt60_s, channel.direct_to_reverb_db))
        out = AF.fftconvolve(torch.from_numpy(out), rir).numpy()[: len(audio)]
    if channel.noise:
        level = np.sqrt(speech_power / 10 ** (channel.snr_db / 10))
        out = out + coloured(rng, len(out), channel.noise, channel.hum_hz) * level
    return out.astype(np.float32)


# --- codecs -----------------------------------------------------------------------------------


def encode(audio: np.ndarray, rate: int, fmt: str, kbps: int = 0) -> bytes:
    """A file's bytes: WAV/FLAC through libsndfile, MP3/Opus/AAC through Debian's ffmpeg."""
    buffer = io.BytesIO()
    if fmt in ("wav", "flac"):
        sf.write(buffer, audio, rate, format=fmt.upper(), subtype="PCM_16")
        return buffer.getvalue()
    sf.write(buffer, audio, rate, format="WAV", subtype="FLOAT")
    codec, container = ENCODERS[fmt]
    # Written to a file, not a pipe: the MP3 and M4A muxers seek back to write the encoder delay,
    # without which the decoded audio starts late and the labels drift.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"a.{container}"
        command = ["ffmpeg", "-v", "error", "-f", "wav", "-i", "pipe:0", "-c:a", codec, "-b:a", f"{kbps}k"]
        command += ["-fflags", "+bitexact", "-flags:a", "+bitexact"]  # no random Ogg serial, no version tag
        subprocess.run([*command, str(path)], input=buffer.getvalue(), check=True, capture_output=True)
        return path.read_bytes()


def decode(data: bytes, suffix: str) -> np.ndarray:
    """Bytes → 16 kHz mono float32, by the same path uploads take (relayml.ingest)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"a.{suffix}"
        path.write_bytes(data)
        return np.concatenate(list(iter_canonical(str(path), probe(str(path))))).astype(np.float32)


def codec_leg(audio: np.ndarray, spec: str) -> np.ndarray:
    """A transport codec at 16 kHz, encoded and decoded, trimmed or padded to the input's length."""
    fmt, kbps = spec.split(":")
    decoded = decode(encode(audio, SAMPLE_RATE, fmt, int(kbps)), ENCODERS[fmt][1])
    return fit(decoded, len(audio))


def fit(audio: np.ndarray, n: int) -> np.ndarray:
    return audio[:n] if len(audio) >= n else np.pad(audio, (0, n - len(audio)))


def suffix(channel: Channel) -> str:
    return channel.delivery if channel.delivery in ("wav", "flac") else ENCODERS[channel.delivery][1]


def deliver(audio: np.ndarray, channel: Channel, gain: float) -> tuple[bytes, np.ndarray]:
    """The delivered file's bytes, and what the platform decodes from them (16 kHz, input's length)."""
    scaled = np.clip(audio * gain, -1, 1).astype(np.float32)
    if channel.rate != SAMPLE_RATE:
        scaled = AF.resample(torch.from_numpy(scaled), SAMPLE_RATE, channel.rate).numpy()
    data = encode(scaled, channel.rate, channel.delivery, channel.bitrate_kbps)
    return data, fit(decode(data, suffix(channel)), len(audio))
