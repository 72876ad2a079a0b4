"""Is each injected event still there after the channel? Measured, not assumed.

A clip is rendered twice through the identical channel (same seeds): with its events (`e`) and
without them (`r`, the reference; cuts made cleanly). Their difference `d = e - r` is what the
events left, and nothing else, except where a lossy codec codes the two versions differently.

For glitch, clipping and dropout, in the event's probe span (its label; for a stutter, its first join):
- `change_db`: 10 log10(Σd² / Σr²), how much the event changed its span; for clipping, d is the
  residual after the best gain (e - g·r), so a louder copy is not taken for distortion;
- `level_db`: mean d² against the clip's mean speech power, so a change buried in quiet is not counted;
- `stands_out_db`: how far the event stands out of the codec's own difference: the loudest window of d
  in the span (windows as long as the span, at most 20 ms) against the 99th percentile of such
  windows in speech away from every event (±100 ms and the room's reverb), in dB; +120 without a codec.

An event is present when change_db ≥ CHANGE_MIN[kind], level_db ≥ LEVEL_MIN[kind] and
stands_out_db ≥ 6 dB. A long pause has no reference (the timeline would change): it is
present when at least 80 % of its 10 ms frames are no louder than the clip's pause floor + 6 dB
(the median energy of all its pauses' frames; or speech - 35 dB where the pauses are near silent),
i.e. reverb tails and codec smear have not filled it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relayml import synth

MS = synth.SAMPLES_PER_MS
CHANGE_MIN = {"glitch": -12.0, "clipping": -20.0, "dropout": -10.0}
LEVEL_MIN = {"glitch": -40.0, "clipping": -35.0, "dropout": -30.0}
CHANNEL_MARGIN_DB = 6.0
QUIET_SHARE = 0.8
FLOOR = -120.0


@dataclass
class Presence:
    present: bool
    change_db: float = FLOOR
    level_db: float = FLOOR
    stands_out_db: float = FLOOR
    quiet_share: float = 0.0

    def to_dict(self) -> dict:
        """The measurements that decided it (a pause's quiet share, or the three levels)."""
        keys = ("quiet_share",) if self.quiet_share else ("change_db", "level_db", "stands_out_db")
        return {"present": self.present} | {key: round(getattr(self, key), 2) for key in keys}


def db(numerator: float, denominator: float) -> float:
    if numerator <= 0:
        return FLOOR
    return float(max(FLOOR, 10 * np.log10(numerator / max(denominator, 1e-20))))


def mask_of(n: int, spans: list[tuple[int, int]], widen: int = 0) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for start, end in spans:
        mask[max(0, start - widen) : min(n, end + widen)] = True
    return mask


def check_events(
    e: np.ndarray,
    r: np.ndarray,
    kinds: list[str],
    spans: list[tuple[int, int]],
    speech: list[tuple[int, int]],
    gaps: list[tuple[int, int]],
    spread: int,
) -> list[Presence]:
    """Presence of each event (`kinds[i]` at `spans[i]`, samples) in e against its reference r.

    `speech` and `gaps` are the clip's speech and pause spans; `spread` is how far the channel smears
    an event (the room's reverb length), kept out of the channel's own difference level.
    """
    n = min(len(e), len(r))
    e, r = e[:n], r[:n]
    d = e - r
    speech_mask = mask_of(n, speech)
    speech_power = float(np.mean(r[speech_mask] ** 2)) if speech_mask.any() else 1e-12
    away = speech_mask & ~mask_of(n, spans, 100 * MS + spread)
    out = []
    for kind, (start, end) in zip(kinds, spans, strict=True):
        if kind == "long_pause":
            out.append(pause_presence(e, start, end, speech, gaps))
            continue
        seg_e, seg_r = e[start:end], r[start:end]
        if kind == "clipping":
            gain = float(np.dot(seg_e, seg_r) / max(float(np.dot(seg_r, seg_r)), 1e-20))
            seg_d = seg_e - gain * seg_r
        else:
            seg_d = seg_e - seg_r
        change = db(float(np.sum(seg_d**2)), float(np.sum(seg_r**2)))
        level = db(float(np.mean(seg_d**2)), speech_power)
        stands_out = stand_out_db(seg_d, d, away)
        present = change >= CHANGE_MIN[kind] and level >= LEVEL_MIN[kind] and stands_out >= CHANNEL_MARGIN_DB
        out.append(Presence(present, change, level, stands_out))
    return out


def window_rms(x: np.ndarray, width: int) -> np.ndarray:
    x = x[: len(x) - len(x) % width].reshape(-1, width)
    return np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1))


def stand_out_db(seg_d: np.ndarray, d: np.ndarray, away: np.ndarray) -> float:
    """The span's loudest window of d over the 99th percentile of d's windows away from events."""
    width = max(1, min(len(seg_d), 20 * MS))
    peak = float(window_rms(seg_d, width).max())
    usable = window_rms(away.astype(np.float32), width) == 1.0  # windows wholly away from events
    background = window_rms(d, width)[usable]
    floor = float(np.percentile(background, 99)) if len(background) else 0.0
    return -FLOOR if floor <= 0 else min(-FLOOR, 20 * float(np.log10(max(peak, 1e-12) / floor)))


def frame_db(audio: np.ndarray) -> np.ndarray:
    frames = audio[: len(audio) - len(audio) % (10 * MS)].reshape(-1, 10 * MS)
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)


def pause_presence(
    e: np.ndarray, start: int, end: int, speech: list[tuple[int, int]], gaps: list[tuple[int, int]]
) -> Presence:
    speech_db = float(np.median(np.concatenate([frame_db(e[a:b]) for a, b in speech])))
    floor_db = float(np.median(np.concatenate([frame_db(e[a:b]) for a, b in gaps])))
    quiet = frame_db(e[start:end]) <= max(floor_db + 6, speech_db - 35)
    share = float(np.mean(quiet)) if len(quiet) else 0.0
    return Presence(share >= QUIET_SHARE, quiet_share=share)
