"""The speech analyses on TTS output: recognition accuracy and speed, and the script check's errors.

    python bench/speech.py [--models whisper-tiny.en,whisper-base] [--per-voice 8] [--device cpu|cuda]

For each engine and voice (espeak-ng, flite, festival, Piper; relayml.realdata.engines), sentences
from relayml.synth.SENTENCES are spoken and heard by relayml.speech. Reported per voice:
- WER counted as the script check counts it (normalised; equivalent spellings are no error);
- false findings: findings against the very script the audio was made from (each one a false alarm);
- caught: one word of the script dropped, one added and one swapped for another (three altered
  scripts per clip), and whether the check reports exactly that kind of finding at that word;
- speed: seconds of audio per second of recognition (real-time factor, higher is faster).
Results go into docs/benchmarks.md ("Speech analyses").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import machine_summary, write_section  # noqa: E402
from relayml import script_check, speech  # noqa: E402
from relayml.realdata import engines  # noqa: E402
from relayml.synth import SENTENCES  # noqa: E402

VOICES = [("espeak", "en-us"), ("flite", "slt"), ("flite", "rms"), ("festival", "cmu_us_slt_arctic_hts"),
          ("festival", "kal_diphone"), ("piper", "en_US-joe-medium")]  # fmt: skip
SWAP = {"the": "a", "is": "was", "and": "or", "to": "from", "a": "the", "in": "on", "of": "for"}


def altered(text: str, rng: np.random.Generator) -> list[tuple[str, str, str]]:
    """(script, the finding it should give, its word) for a word the audio lacks, a word the script
    lacks and a swapped word."""
    words = text.rstrip(".").split()
    i = int(rng.integers(1, len(words) - 1))
    # The audio lacks a word the script has (an omission), and has one the script lacks.
    not_said = " ".join(words[:i] + [words[i] + " certainly"] + words[i + 1 :])
    not_scripted = " ".join(words[:i] + words[i + 1 :])
    swapped_at = next((k for k, w in enumerate(words) if w.lower() in SWAP), i)
    swapped = words.copy()
    swapped[swapped_at] = SWAP.get(words[swapped_at].lower(), "purple")
    return [
        (not_said, "omission", "certainly"),
        (not_scripted, "hallucination", words[i].lower().strip(",")),
        (" ".join(swapped), "mispronunciation", swapped[swapped_at].lower()),
    ]


def caught(result, kind: str, word: str) -> bool:
    return any(
        f["artifact_type"] == kind
        and word in (f["details"]["expected"] + " " + f["details"]["heard"]).lower()
        for f in result.findings
    )


def run(model: str, per_voice: int, device: str, cache: Path) -> list[dict]:
    recogniser = speech.Recogniser(model, cache, device)
    rng = np.random.default_rng(7)
    rows = []
    for engine, voice in VOICES:
        texts = [SENTENCES[(k * 7 + len(voice)) % len(SENTENCES)] for k in range(per_voice)]
        clips = engines.render(engines.Voice(engine, voice), texts)
        audio_s = heard_s = wer = 0.0
        false = hits = tries = 0
        for text, clip in zip(texts, clips, strict=True):
            start = time.perf_counter()
            transcript = recogniser.hear(clip)
            heard_s += time.perf_counter() - start
            audio_s += len(clip) / 16_000
            duration = len(clip) * 1000 // 16_000
            faithful = script_check.check(text, transcript.words, "en", duration)
            wer += faithful.wer
            false += len(faithful.findings)
            for script, kind, word in altered(text, rng):
                tries += 1
                hits += caught(script_check.check(script, transcript.words, "en", duration), kind, word)
        rows.append({"voice": f"{engine} {voice}", "wer": wer / per_voice, "false": false / per_voice,
                     "caught": hits / tries, "rtf": audio_s / heard_s})  # fmt: skip
        print(model, rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=f"{speech.TINY_EN},{speech.BASE}")
    parser.add_argument("--per-voice", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    lines = [
        f"Command: `python bench/speech.py --models {args.models} --per-voice {args.per_voice} "
        f"--device {args.device}` ({time.strftime('%Y-%m-%d')}). Machine: {machine_summary()}; device "
        f"`{args.device}`.",
        "",
        "Per voice: WER as the script check counts it; false findings per clip against the script "
        "the audio was made from; the share of altered scripts (one word dropped, one added, one "
        "swapped per clip) whose change is reported as that kind of finding at that word; speed in "
        "seconds of audio per second of recognition.",
        "",
        "| model | voice | WER | false findings / clip | altered scripts caught | × real time |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as cache:
        for model in args.models.split(","):
            rows = run(model, args.per_voice, args.device, Path(cache))
            for r in rows:
                cells = [model, r["voice"], f"{r['wer']:.3f}", f"{r['false']:.2f}", f"{r['caught']:.2f}"]
                lines.append(f"| {' | '.join(cells)} | {r['rtf']:.1f} |")
            mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("wer", "false", "caught", "rtf")}
            lines.append(
                f"| {model} | **all** | **{mean['wer']:.3f}** | **{mean['false']:.2f}** | "
                f"**{mean['caught']:.2f}** | {mean['rtf']:.1f} |"
            )
    write_section(Path(args.out), "Speech analyses", "\n".join(lines))


if __name__ == "__main__":
    main()
