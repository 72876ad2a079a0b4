"""The artifacts, in the ways they really happen, each with the clean version it is judged against.

Every artifact is made twice: the event itself and its *reference* (the same timeline without the
event). For in-place artifacts the reference is the untouched audio; for cuts (splice, dropped
samples, stutter) it is the same edit made cleanly, with 2 ms raised-cosine crossfades at each join,
so both versions have the same length and differ only around the joins. The label is the span in
which the two differ, widened to whole milliseconds.

- glitch: `splice` (10–120 ms skipped at a non-matching point), `dropped_samples` (1–80 samples
  lost), `stutter` (a 10–60 ms frame played 2–4 times), `click` (a 1–3 ms pop added), `burst`
  (5–40 ms of digital garbage replacing the audio);
- clipping: `hard`, `soft` (tanh), `asymmetric`; at the `source` (before any codec) or `post_codec`
  (after a transport codec, so its flat tops reach the file intact);
- dropout: `zeroed` (digital silence), `lost_packets` (20 ms frames zeroed at random in a burst),
  `concealed` (lost frames replaced by the previous frame, fading, as packet-loss concealment does);
- long_pause: a 0.9–2.5 s gap between sentences, filled with the clip's room tone (digital silence,
  hiss, pink noise or mains hum: `channel.TONES`), and whatever noise the room adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from relayml import synth
from relayml.realdata.channel import TONES

MS = synth.SAMPLES_PER_MS
FADE = 2 * MS  # half-width of a clean join's crossfade
PACKET = 20 * MS
VARIANTS: dict[str, tuple[str, ...]] = {
    "glitch": ("splice", "dropped_samples", "stutter", "click", "burst"),
    "long_pause": TONES,  # the room tone in the pause, drawn with the channel
    "clipping": ("hard", "soft", "asymmetric"),
    "dropout": ("zeroed", "lost_packets", "concealed"),
}
CUTS = ("splice", "dropped_samples", "stutter")


@dataclass
class Event:
    """One planned artifact: where it sits (sentence, offset into the unedited sentence) and how."""

    kind: str
    variant: str
    sentence: int  # for long_pause: the gap after this sentence
    offset: int = 0  # samples into the unedited sentence
    length: int = 0  # samples of the unedited sentence it covers
    params: dict[str, float] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        """Where in the chain it happens: the TTS source, or the transport after the room."""
        post_codec = self.kind == "clipping" and self.params.get("post_codec", 0) > 0
        return "transport" if self.kind == "dropout" or post_codec else "source"

    def describe(self) -> str:
        where = "@post_codec" if self.stage == "transport" and self.kind == "clipping" else ""
        return f"{self.kind}:{self.variant}{where}"


def draw(kind: str, variant: str, rng: np.random.Generator) -> Event:
    """An event's shape parameters (its place is chosen later, once the speech is known)."""
    p: dict[str, float] = {"seed": float(rng.integers(0, 2**31))}
    if variant == "splice":
        p["skip"] = float(ms(rng.uniform(10, 120)))
    elif variant == "dropped_samples":
        p["skip"] = float(rng.integers(1, 81))
    elif variant == "stutter":
        p |= {"frame": float(ms(rng.uniform(10, 60))), "repeats": float(rng.integers(1, 4))}
    elif variant == "click":
        p |= {"amplitude": rng.uniform(0.15, 0.9), "ms": float(rng.integers(1, 4))}
    elif variant == "burst":
        p |= {"amplitude": rng.uniform(0.2, 1.0), "ms": float(rng.integers(5, 41))}
    elif kind == "clipping":
        p |= {"drive": rng.uniform(2.0, 8.0), "ceiling": rng.uniform(0.15, 0.5), "ms": rng.uniform(120, 450)}
        p["asymmetry"] = rng.uniform(0.25, 0.7)
    elif variant == "zeroed":
        p["ms"] = float(rng.integers(40, 301))
    elif variant in ("lost_packets", "concealed"):
        p |= {"packets": float(rng.integers(2, 9) if variant == "concealed" else rng.integers(5, 21))}
        p |= {"loss": rng.uniform(0.3, 0.6), "fade": rng.uniform(0.5, 0.85)}
    event = Event(kind, variant, sentence=0, params=p)
    event.length = footprint(event)
    return event


def ms(value: float) -> int:
    """Whole milliseconds, in samples."""
    return int(round(value)) * MS


def footprint(event: Event) -> int:
    """Samples of unedited speech the event needs around its offset."""
    p = event.params
    if event.variant in CUTS:
        return int(p.get("skip", 0) + p.get("frame", 0) * (p.get("repeats", 0) + 1)) + 2 * FADE
    if "packets" in p:
        return int(p["packets"]) * PACKET + PACKET  # room to align to the packet grid
    return ms(p["ms"])  # click, burst, clipping, zeroed


# --- cuts: edits of one sentence --------------------------------------------------------------


def cut_segments(event: Event, n: int) -> list[tuple[int, int]]:
    """The edited sentence as ranges of the unedited one."""
    at, p = event.offset + FADE, event.params
    if event.variant == "stutter":
        frame, repeats = int(p["frame"]), int(p["repeats"])
        # The frame before `at` plays again `repeats` times: heard 1 + repeats times in all.
        return [(0, at), *[(at - frame, at)] * repeats, (at, n)]
    return [(0, at), (at + int(p["skip"]), n)]


def pick_cut(event: Event, speech: np.ndarray, rng: np.random.Generator, lo: int, hi: int) -> int:
    """A cut where the two sides do not match: the largest jump among a few candidate points."""
    skip = int(event.params.get("skip", 0))
    back = int(event.params.get("frame", 0))
    candidates = rng.integers(lo, max(lo + 1, hi), size=24)
    if event.variant == "stutter":
        jumps = [abs(speech[c + FADE - 1] - speech[c + FADE - back]) for c in candidates]
    else:
        jumps = [abs(speech[c + FADE - 1] - speech[c + FADE + skip]) for c in candidates]
    return int(candidates[int(np.argmax(jumps))])


def join(speech: np.ndarray, segments: list[tuple[int, int]], smooth: bool) -> np.ndarray:
    """Concatenate ranges of `speech`; with `smooth`, crossfade each join over ±FADE samples."""
    out = np.concatenate([speech[a:b] for a, b in segments]).astype(np.float32)
    if not smooth:
        return out
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(2 * FADE) + 0.5) / (2 * FADE))).astype(np.float32)
    position = 0
    for index in range(len(segments) - 1):
        (a0, a1), (b0, _) = segments[index], segments[index + 1]
        position += a1 - a0
        leaving, arriving = speech[a1 - FADE : a1 + FADE], speech[b0 - FADE : b0 + FADE]
        out[position - FADE : position + FADE] = leaving * (1 - ramp) + arriving * ramp
    return out


def edit_sentence(
    speech: np.ndarray, cut: Event | None, smooth: bool
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """The sentence with its cut (or its clean reference) on the ms grid, the cut's label span, and
    its probe: the first join, where the hard and clean versions differ (for a stutter the label
    covers all the repeated frames, but only the joins differ from the clean version)."""
    if cut is None:
        return speech, (0, 0), (0, 0)
    out = join(speech, cut_segments(cut, len(speech)), smooth)
    out = out[: len(out) - len(out) % MS]
    at = cut.offset + FADE
    end = at + FADE if cut.variant != "stutter" else at + int(cut.params["frame"] * cut.params["repeats"])
    return out, (at - FADE, end), (at - FADE, at + FADE)


def shift(cut: Event | None, offset: int) -> int:
    """Where an unedited offset lands after the sentence's cut."""
    if cut is None or offset < cut.offset:
        return offset
    p = cut.params
    return offset + int(p["frame"] * p["repeats"]) if cut.variant == "stutter" else offset - int(p["skip"])


# --- in-place artifacts -----------------------------------------------------------------------


def overlay(audio: np.ndarray, event: Event, start: int) -> tuple[int, int]:
    """Apply an in-place event at `start` (modifying `audio`) and return the span it changed."""
    rng = np.random.default_rng(int(event.params["seed"]))
    if event.kind == "dropout":
        return drop(audio, event, start - start % PACKET, rng)
    end = start + event.length
    segment = audio[start:end]
    if event.variant == "click":
        t = np.arange(len(segment)) / synth.SAMPLE_RATE
        ring = np.exp(-t / 4e-4) * np.cos(2 * np.pi * rng.uniform(1000, 4000) * t)
        segment += rng.choice([-1.0, 1.0]) * event.params["amplitude"] * ring.astype(np.float32)
    elif event.variant == "burst":
        # Garbage from a corrupt frame: random levels held for a few samples each.
        holds = np.repeat(rng.uniform(-1, 1, len(segment)), rng.integers(1, 6))[: len(segment)]
        segment[:] = event.params["amplitude"] * holds
    elif event.kind == "clipping":
        segment[:], over = clip(segment, event)
        if over.any():  # the label is where the waveform met the ceiling, not the whole drive
            first, last = np.flatnonzero(over)[[0, -1]]
            start, end = start + int(first), start + int(last) + 1
    np.clip(segment, -1, 1, out=segment)
    return start, end


def clip(segment: np.ndarray, event: Event) -> tuple[np.ndarray, np.ndarray]:
    """Drive into a limiter; the drive ramps in and out over 10 ms so the edges do not click.
    Returns the clipped segment and which samples were driven past the ceiling (for soft clipping,
    into the tanh's knee): quieter stretches of the drive are only louder, not clipped."""
    p = event.params
    ramp = np.minimum(1, np.minimum(np.arange(len(segment)), np.arange(len(segment))[::-1]) / (10 * MS))
    driven = segment * (1 + (p["drive"] - 1) * ramp)
    top = min(0.99, p["ceiling"] * p["drive"] * float(np.max(np.abs(segment))))
    low = -top * p["asymmetry"] if event.variant == "asymmetric" else -top
    over = (driven > top) | (driven < low)
    if event.variant == "soft":
        return (top * np.tanh(driven / top)).astype(np.float32), over
    return np.clip(driven, low, top).astype(np.float32), over


def drop(audio: np.ndarray, event: Event, start: int, rng: np.random.Generator) -> tuple[int, int]:
    """Dropouts on the 20 ms packet grid of the stream (start is aligned by the caller)."""
    if event.variant == "zeroed":
        audio[start : start + event.length] = 0.0
        return start, start + event.length
    count = int(event.params["packets"])
    if event.variant == "concealed":
        lost = np.ones(count, dtype=bool)
    else:
        lost = rng.random(count) < event.params["loss"]
        lost[0] = lost[-1] = True
    previous = audio[start - PACKET : start].copy()
    for index in range(count):
        at = start + index * PACKET
        if not lost[index]:
            previous = audio[at : at + PACKET].copy()
        elif event.variant == "concealed":
            # Concealment repeats the last good frame, quieter each time, as codecs' PLC does.
            audio[at : at + PACKET] = previous * event.params["fade"] ** (index + 1)
        else:
            audio[at : at + PACKET] = 0.0
    return start, start + count * PACKET
