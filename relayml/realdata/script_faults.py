"""Speech that departs from its script in known ways, with exact times: the script check's test data.

A sentence is rendered in three parts (the words before the change, the change, the words after),
joined by a short pause, so where the change lies in the audio is known to the millisecond:
- `faithful`: the script as written;
- `swap`: one word said as another (a `mispronunciation` of that word);
- `add`: a phrase the script does not have (a `hallucination`);
- `drop`: one word left out (an `omission`, at the junction where it should have been).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from relayml.realdata import engines

SAMPLE_RATE = engines.SAMPLE_RATE
JOIN_MS = 80  # the pause between the rendered parts
FAULTS = ("faithful", "swap", "add", "drop")
KIND = {"swap": "mispronunciation", "add": "hallucination", "drop": "omission"}
SWAPS = ("window", "purple", "seven", "garden", "river", "yellow", "pencil", "monkey", "silver", "ocean")
PHRASES = ("as you know", "by the way", "right away", "of course", "to be honest", "for now")


@dataclass
class Truth:
    artifact_type: str
    start_ms: int
    end_ms: int
    expected: str
    heard: str


@dataclass
class Render:
    script: str  # what the TTS was asked to say
    said: str  # what the audio says
    fault: str
    voice: engines.Voice
    audio: np.ndarray
    truths: list[Truth] = field(default_factory=list)

    @property
    def duration_ms(self) -> int:
        return len(self.audio) * 1000 // SAMPLE_RATE


def pick(words: list[str], rng: np.random.Generator) -> int:
    """A word inside the sentence (not first or last) of at least four letters."""
    inner = [i for i in range(1, len(words) - 1) if len(words[i].strip(",.?!")) >= 4]
    return int(rng.choice(inner)) if inner else len(words) // 2


def render(text: str, voice: engines.Voice, fault: str, rng: np.random.Generator) -> Render:
    words = text.split()
    i = pick(words, rng)
    bare = words[i].strip(",.?!")
    before, after = " ".join(words[:i]), " ".join(words[i + 1 :])
    if fault == "faithful":
        parts = [before, words[i], after]
    elif fault == "swap":
        swapped = str(rng.choice([w for w in SWAPS if w != bare.lower()]))
        parts = [before, words[i].replace(bare, swapped), after]
    elif fault == "add":
        phrase = str(rng.choice(PHRASES))
        parts = [before, phrase, " ".join(words[i:])]
    else:
        parts = [before, " ".join(words[i + 1 :])]
    parts = [p for p in parts if p]
    audio = engines.render(voice, parts)
    gap = np.zeros(JOIN_MS * SAMPLE_RATE // 1000, np.float32)
    bounds, at = [], 0
    for piece in audio:
        n = len(piece) * 1000 // SAMPLE_RATE
        bounds.append((at, at + n))
        at += n + JOIN_MS
    joined = np.concatenate([x for piece in audio for x in (piece, gap)][:-1])
    result = Render(text, " ".join(parts), fault, voice, joined)
    if fault == "drop":
        junction = bounds[0][1] + JOIN_MS // 2
        result.truths = [Truth(KIND[fault], junction, junction, bare.lower(), "")]
    elif fault in KIND:
        start, end = bounds[1]
        heard = parts[1].strip(",.?!")
        result.truths = [Truth(KIND[fault], start, end, "" if fault == "add" else bare.lower(), heard)]
    return result
