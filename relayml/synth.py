"""Real speech with injected artifacts and exact labels, for tests, demos and benchmarks.

Speech comes from Debian's espeak-ng (several voices, speeds and pitches). Artifacts:
- glitch: a click or pop (a 1–8 ms burst) inside speech;
- long_pause: an unnaturally long silence (0.7–1.8 s) between sentences;
- clipping: a stretch of speech driven into a hard limiter (flat-topped samples);
- dropout: a stretch of speech replaced by digital silence.
Every label is the exact sample span that was changed, in integer milliseconds.

    python -m relayml.synth --out var/synth --count 20 --format flac
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

SAMPLE_RATE = 16_000
ARTIFACT_TYPES = ("glitch", "long_pause", "clipping", "dropout")
VOICES = (
    "en-us", "en-gb", "en-us+f3", "en-gb+f2", "en-us+m3", "en-gb-scotland",
    "en-gb-x-rp", "en-029", "en-us+f4", "en-gb-x-gbclan", "en-us-nyc", "en-gb+m5",
)  # fmt: skip
SENTENCES = (
    "Your order has been shipped and will arrive on Thursday.",
    "Please hold while I transfer you to the next available agent.",
    "The weather tomorrow will be sunny with a light breeze.",
    "I can help you reset your password in a few simple steps.",
    "Thank you for calling, how can I help you today?",
    "Your appointment is confirmed for three thirty in the afternoon.",
    "The total comes to forty two dollars and fifteen cents.",
    "Would you like me to read the terms and conditions again?",
    "Our office is open from nine in the morning until six at night.",
    "I did not catch that, could you please repeat your account number?",
    "The train to Edinburgh departs from platform four in ten minutes.",
    "We have updated your billing address as requested.",
    "Remember to bring a valid photo identification with you.",
    "Your package was left at the front door at noon.",
    "The quarterly report shows a steady rise in customer satisfaction.",
    "Press one for sales, two for support, or stay on the line.",
)  # fmt: skip


@dataclass
class Label:
    artifact_type: str
    start_ms: int
    end_ms: int


@dataclass
class Clip:
    audio: np.ndarray  # float32, mono, 16 kHz
    labels: list[Label] = field(default_factory=list)
    voice: str = ""
    text: str = ""

    @property
    def duration_ms(self) -> int:
        return round(len(self.audio) * 1000 / SAMPLE_RATE)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50) -> np.ndarray:
    """Speech from espeak-ng as float32 at 16 kHz, leading and trailing silence trimmed."""
    command = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text]
    wav = subprocess.run(command, capture_output=True, check=True, timeout=60).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    audio = AF.resample(torch.from_numpy(audio), rate, SAMPLE_RATE).numpy()
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    audio = audio[loud[0] : loud[-1] + 1] if len(loud) else audio
    return audio[: len(audio) - len(audio) % SAMPLES_PER_MS]  # end on the ms grid


SAMPLES_PER_MS = SAMPLE_RATE // 1000


def ms_to_sample(ms: float) -> int:
    """Whole milliseconds only: every boundary sits on the ms grid, so labels are exact."""
    return int(round(ms)) * SAMPLES_PER_MS


def sample_to_ms(sample: int) -> int:
    return int(round(sample * 1000 / SAMPLE_RATE))


def room_tone(rng: np.random.Generator, n: int) -> np.ndarray:
    # A faint noise floor, as in real recordings; digital zero is kept for dropouts.
    return (rng.standard_normal(n) * 3e-4).astype(np.float32)


def make_clip(
    seed: int,
    sentences: int = 4,
    artifacts: tuple[str, ...] = ARTIFACT_TYPES,
    voices: tuple[str, ...] = VOICES,
) -> Clip:
    """One clip of `sentences` sentences with each type in `artifacts` injected once."""
    rng = np.random.default_rng(seed)
    voice = voices[seed % len(voices)]
    speed, pitch = int(rng.integers(130, 200)), int(rng.integers(30, 70))
    texts = [SENTENCES[i] for i in rng.choice(len(SENTENCES), size=sentences, replace=False)]
    long_gap_at = int(rng.integers(0, sentences - 1)) if "long_pause" in artifacts else -1
    parts, labels, speech_spans, cursor = [], [], [], 0
    lead = room_tone(rng, ms_to_sample(rng.uniform(150, 400)))
    parts.append(lead)
    cursor += len(lead)
    for index, text in enumerate(texts):
        speech = speak(text, voice, speed, pitch)
        parts.append(speech + room_tone(rng, len(speech)))
        speech_spans.append((cursor, cursor + len(speech)))
        cursor += len(speech)
        if index == long_gap_at:
            gap = room_tone(rng, ms_to_sample(rng.uniform(700, 1800)))
            labels.append(Label("long_pause", sample_to_ms(cursor), sample_to_ms(cursor + len(gap))))
        else:
            gap = room_tone(rng, ms_to_sample(rng.uniform(120, 350)))
        parts.append(gap)
        cursor += len(gap)
    audio = np.concatenate(parts).astype(np.float32)
    labels += inject_in_speech(audio, rng, speech_spans, [a for a in artifacts if a != "long_pause"])
    labels.sort(key=lambda label: label.start_ms)
    return Clip(audio=audio, labels=labels, voice=voice, text=" ".join(texts))


def inject_in_speech(
    audio: np.ndarray, rng: np.random.Generator, spans: list[tuple[int, int]], kinds: list[str]
) -> list[Label]:
    """Place each artifact inside speech, never overlapping another, and modify `audio` in place."""
    lengths_ms = {"glitch": (1, 8), "clipping": (120, 450), "dropout": (40, 220)}
    taken: list[tuple[int, int]] = []
    labels = []
    for kind in kinds:
        length = ms_to_sample(rng.uniform(*lengths_ms[kind]))
        start = pick_free_start(rng, spans, taken, length)
        if start is None:
            continue
        end = start + max(SAMPLES_PER_MS, length)
        apply_artifact(kind, audio, start, end, rng)
        taken.append((start - ms_to_sample(300), end + ms_to_sample(300)))
        labels.append(Label(kind, sample_to_ms(start), sample_to_ms(end)))
    return labels


def pick_free_start(rng, spans, taken, length) -> int | None:
    for _ in range(200):
        lo, hi = spans[int(rng.integers(0, len(spans)))]
        margin = ms_to_sample(80)
        if hi - lo <= length + 2 * margin:
            continue
        start = int(rng.integers(lo + margin, hi - length - margin)) // SAMPLES_PER_MS * SAMPLES_PER_MS
        if all(start + length < a or start > b for a, b in taken):
            return start
    return None


def apply_artifact(kind: str, audio: np.ndarray, start: int, end: int, rng) -> None:
    if kind == "glitch":
        n = end - start
        decay = np.exp(-np.arange(n) / max(1.0, n / 4))
        sign = rng.choice([-1.0, 1.0])
        burst = sign * rng.uniform(0.5, 0.95) * decay * (1 + 0.3 * rng.standard_normal(n))
        audio[start:end] = np.clip(audio[start:end] + burst, -1, 1)
    elif kind == "clipping":
        segment = audio[start:end] * rng.uniform(4.0, 10.0)
        level = rng.uniform(0.25, 0.6)
        audio[start:end] = np.clip(segment, -level, level)
    elif kind == "dropout":
        audio[start:end] = 0.0
    else:
        raise ValueError(f"unknown artifact type {kind!r}")


def write_clip(clip: Clip, path: Path, fmt: str = "wav") -> Path:
    """Write a clip as wav/flac/ogg through soundfile, or mp3/m4a/webm/aac through ffmpeg."""
    path = path.with_suffix("." + fmt)
    if fmt in {"wav", "flac", "ogg"}:
        sf.write(path, clip.audio, SAMPLE_RATE)
        return path
    codecs = {"mp3": ["-c:a", "libmp3lame"], "m4a": ["-c:a", "aac"], "webm": ["-c:a", "libopus"],
              "aac": ["-c:a", "aac", "-f", "adts"]}  # fmt: skip
    buffer = io.BytesIO()
    sf.write(buffer, clip.audio, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    command = ["ffmpeg", "-v", "error", "-y", "-f", "wav", "-i", "pipe:0", *codecs[fmt], str(path)]
    subprocess.run(command, input=buffer.getvalue(), check=True, timeout=120)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sentences", type=int, default=4)
    parser.add_argument(
        "--format", default="wav", choices=["wav", "flac", "ogg", "mp3", "m4a", "webm", "aac"]
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for i in range(args.count):
        clip = make_clip(args.seed + i, sentences=args.sentences)
        path = write_clip(clip, args.out / f"clip_{args.seed + i:05d}", args.format)
        manifest.append({"file": path.name, "voice": clip.voice, "duration_ms": clip.duration_ms,
                         "labels": [asdict(label) for label in clip.labels]})  # fmt: skip
    (args.out / "labels.json").write_text(json.dumps(manifest, indent=1))
    print(f"wrote {args.count} clips and labels.json to {args.out}")


if __name__ == "__main__":
    main()


def train_files(folder, count: int = 5, seed_base: int = 700, sentences: int = 2) -> list:
    """`count` labelled clips written and processed under `folder`: TrainFiles for relayml.train
    (tests and benchmarks)."""
    from pathlib import Path

    import soundfile as sf

    from relayml.events import Event
    from relayml.ingest import FEATURES_NAME, process
    from relayml.train import TrainFile

    out = []
    for seed in range(count):
        clip = make_clip(seed_base + seed, sentences=sentences)
        clip_dir = Path(folder) / str(seed)
        clip_dir.mkdir()
        sf.write(clip_dir / "a.wav", clip.audio, SAMPLE_RATE, subtype="PCM_16")
        process(clip_dir / "a.wav", clip_dir)
        events = [Event(x.artifact_type, x.start_ms, x.end_ms) for x in clip.labels]
        out.append(TrainFile(str(seed), str(clip_dir / FEATURES_NAME), events, clip.duration_ms))
    return out
