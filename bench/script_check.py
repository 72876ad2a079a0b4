"""The script check on speech that departs from its script in known ways.

    python bench/script_check.py [--models whisper-tiny.en,whisper-base] [--per-voice 4] [--device cpu]

Held-out sentences (none of relayml.synth's, which the check was tuned on) are rendered by eight
voices of four engines (espeak-ng, flite, festival, Piper), each once faithfully and once per fault
(a word swapped, a phrase added, a word dropped; relayml.realdata.script_faults, exact times). Every
render is heard by relayml.speech, as a job hears a batch of files (with whisper-tiny.en, what differs
from the script is heard a second time, primed with it: relayml.script_check.second_hearings), and
checked against its script.
Reported per model: per-type event F1 of the findings on the faulty renders (same type, start and
end within 300 ms of the truth; an omission within 300 ms of where the word should have been),
false findings per minute of the faithful renders, the recogniser's WER on them, and throughput (in
brackets: the first hearing alone).
Results go into docs/benchmarks.md ("Script check").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import machine_summary, write_section  # noqa: E402
from relayml import script_check, speech  # noqa: E402
from relayml.realdata import engines  # noqa: E402
from relayml.realdata.script_faults import FAULTS, KIND, render  # noqa: E402

COLLAR_MS = 300
VOICES = [
    ("espeak", "en-us"), ("espeak", "en-gb+f2"), ("flite", "slt"), ("flite", "rms"), ("flite", "awb"),
    ("festival", "cmu_us_slt_arctic_hts"), ("festival", "kal_diphone"), ("piper", "en_US-joe-medium"),
]  # fmt: skip
HELD_OUT = (
    "Your refund of twenty dollars has been processed successfully.",
    "The doctor will call you back before the end of the day.",
    "Please confirm your date of birth to continue with the payment.",
    "We noticed an unusual login attempt from a new device.",
    "Your subscription will renew automatically next month.",
    "The museum is closed on public holidays and every Monday.",
    "Turn left at the second traffic light and park behind the library.",
    "Our technician will arrive between eight and ten tomorrow morning.",
    "I have scheduled a reminder for your dentist appointment.",
    "The flight to Chicago has been delayed by forty minutes.",
    "Please keep your seatbelt fastened while the sign is illuminated.",
    "Your balance is lower than the minimum required amount.",
    "The recipe needs two cups of flour and a pinch of salt.",
    "We will send a confirmation email within the next hour.",
    "The library will extend its opening hours during the exams.",
    "Please speak clearly after the tone and then press the pound key.",
    "The parcel could not be delivered because nobody was home.",
    "Your new credit card should arrive within seven working days.",
    "The meeting has been moved to the small conference room upstairs.",
    "Thank you for waiting, an agent will be with you shortly.",
    "The pharmacy can refill your prescription this afternoon.",
    "Heavy rain is expected across the northern region tonight.",
    "You can change your delivery address in the account settings.",
    "The hotel offers free breakfast and late checkout for members.",
    "Please remove any metal objects before entering the scanner.",
    "The concert starts at seven and the doors open an hour earlier.",
    "We are unable to verify the information you have provided.",
    "The garden centre sells seeds, tools and young fruit trees.",
    "Your password must contain at least twelve characters.",
    "The bus service will run on a reduced timetable this weekend.",
    "A member of our team will review your application carefully.",
    "The warranty covers parts and labour for three full years.",
)


def matches(finding: dict, truth) -> bool:
    if finding["artifact_type"] != truth.artifact_type:
        return False
    return (
        abs(finding["start_ms"] - truth.start_ms) <= COLLAR_MS
        and abs(finding["end_ms"] - truth.end_ms) <= COLLAR_MS
    )


def renders(per_voice: int) -> list:
    rng = np.random.default_rng(11)
    out = []
    k = 0
    for engine, voice in VOICES:
        for _ in range(per_voice):
            text = HELD_OUT[k % len(HELD_OUT)]
            k += 1
            out += [render(text, engines.Voice(engine, voice), fault, rng) for fault in FAULTS]
    return out


def evaluate(model: str, items: list, device: str, cache: Path) -> dict:
    recogniser = speech.Recogniser(model, cache, device)
    recogniser.hear(items[0].audio)  # warm up (first-call allocations)
    start = time.perf_counter()
    heard, first = [], 0.0
    for voice in dict.fromkeys(r.voice for r in items):  # a batch of files per voice, as a job
        mine = [r for r in items if r.voice == voice]
        began = time.perf_counter()
        transcripts = recogniser.hear_many([r.audio for r in mine])
        first += time.perf_counter() - began
        # As the worker does: what differs from the script is heard again, primed with it.
        files = [(r.audio, t, r.script, r.duration_ms) for r, t in zip(mine, transcripts, strict=True)]
        heard += zip(mine, transcripts, script_check.second_hearings(recogniser, files), strict=True)
    elapsed = time.perf_counter() - start
    counts = {kind: {"tp": 0, "fp": 0, "fn": 0} for kind in KIND.values()}
    false, faithful_ms, wer, faithful = 0, 0, 0.0, 0
    by_voice: dict[str, int] = {f"{r.voice.engine} {r.voice.name}": 0 for r in items}
    for r, transcript, primed in heard:
        language = transcript.language or "en"
        result = script_check.check(r.script, transcript.words, language, r.duration_ms, primed)
        if r.fault == "faithful":
            false += len(result.findings)
            by_voice[f"{r.voice.engine} {r.voice.name}"] += len(result.findings)
            faithful_ms += r.duration_ms
            wer += result.wer
            faithful += 1
            continue
        found = list(result.findings)
        for t in r.truths:
            hit = next((f for f in found if matches(f, t)), None)
            counts[t.artifact_type]["tp" if hit else "fn"] += 1
            if hit:
                found.remove(hit)
        for f in found:
            counts[f["artifact_type"]]["fp"] += 1
    audio_s = sum(r.duration_ms for r in items) / 1000
    f1 = {k: 2 * c["tp"] / max(1, 2 * c["tp"] + c["fp"] + c["fn"]) for k, c in counts.items()}
    return {
        "f1": f1, "counts": counts, "false_per_min": false / (faithful_ms / 60_000), "wer": wer / faithful,
        "speed": audio_s / elapsed, "hearing_speed": audio_s / first, "audio_min": audio_s / 60,
        "by_voice": by_voice,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=f"{speech.TINY_EN},{speech.BASE}")
    parser.add_argument("--per-voice", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    items = renders(args.per_voice)
    lines = [
        f"Command: `python bench/script_check.py --models {args.models} --per-voice {args.per_voice} "
        f"--device {args.device}` ({time.strftime('%Y-%m-%d')}). Machine: {machine_summary()}; device "
        f"`{args.device}`. {len(items)} renders ({len(items) // 4} faithful), "
        f"{sum(r.duration_ms for r in items) / 60_000:.1f} minutes, {len(VOICES)} voices of 4 engines.",
        "",
        "| model | mispronunciation F1 | hallucination F1 | omission F1 | false findings / min | WER "
        "| × real time (hearing only) |",
        "|---|---|---|---|---|---|---|",
    ]
    import tempfile

    per_voice = []
    with tempfile.TemporaryDirectory() as cache:
        for model in args.models.split(","):
            r = evaluate(model, items, args.device, Path(cache))
            print(model, r, flush=True)
            found = ", ".join(f"{voice} {n}" for voice, n in r["by_voice"].items())
            per_voice.append(f"- {model}: {found}")
            f1 = r["f1"]
            cells = [f"{f1[k]:.2f}" for k in ("mispronunciation", "hallucination", "omission")]
            speed = f"{r['speed']:.1f} ({r['hearing_speed']:.1f})"
            cells += [f"{r['false_per_min']:.2f}", f"{r['wer']:.3f}", speed]
            lines.append(f"| {model} | {' | '.join(cells)} |")
    lines += ["", f"False findings by voice ({args.per_voice} faithful renders each):", *per_voice]
    write_section(Path(args.out), "Script check", "\n".join(lines))


if __name__ == "__main__":
    main()
