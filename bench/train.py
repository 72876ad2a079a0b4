"""Detector quality, training time and memory on held-out generated speech, beside a DSP baseline.

    python bench/train.py [--train 150] [--test 50] [--epochs 20] [--device cuda] [--no-write]

Training and test clips come from relayml.synth with different seeds and different voices (the
test voices are never heard in training). Clips are ingested by relayml.ingest (as uploads are)
and the model is trained by relayml.train.train, the function the training worker calls.
Event-based F1 uses the contract's collars. Results go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import soundfile as sf  # noqa: E402

from bench import dsp  # noqa: E402
from bench.report import machine_summary, write_section  # noqa: E402
from relayml import synth  # noqa: E402
from relayml.detect import evaluate  # noqa: E402
from relayml.events import Event, event_metrics  # noqa: E402
from relayml.ingest import FEATURES_NAME, process  # noqa: E402
from relayml.model import Detector  # noqa: E402
from relayml.train import TrainConfig, TrainFile, train  # noqa: E402

TYPES = ["glitch", "long_pause", "clipping", "dropout"]
TRAIN_VOICES = synth.VOICES[:9]
TEST_VOICES = synth.VOICES[9:]
DELIVERY_FORMAT = "mp3"


def build(folder: Path, seeds: range, voices: tuple[str, ...]) -> list[TrainFile]:
    """Generate, write and ingest clips (cached in `folder`)."""
    files = []
    for seed in seeds:
        clip_dir = folder / f"clip_{seed:05d}"
        meta = clip_dir / "labels.json"
        if not meta.exists():
            clip = synth.make_clip(seed, sentences=4, voices=voices)
            clip_dir.mkdir(parents=True, exist_ok=True)
            # Delivered as TTS output usually is, through a lossy codec: flat tops ring, zeros blur.
            original = synth.write_clip(clip, clip_dir / "original", DELIVERY_FORMAT)
            process(original, clip_dir)
            labels = {
                "duration_ms": clip.duration_ms,
                "voice": clip.voice,
                "labels": [asdict(x) for x in clip.labels],
            }
            meta.write_text(json.dumps(labels))
        data = json.loads(meta.read_text())
        events = [Event(x["artifact_type"], x["start_ms"], x["end_ms"]) for x in data["labels"]]
        files.append(TrainFile(str(seed), str(clip_dir / FEATURES_NAME), events, data["duration_ms"]))
    return files


def evaluate_dsp(files: list[TrainFile]) -> dict:
    pairs = []
    for f in files:
        audio, _ = sf.read(Path(f.features_path).parent / "canonical.wav", dtype="float32")
        pairs.append((f.events, dsp.detect(audio)))
    return event_metrics(pairs, TYPES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--train", type=int, default=150)
    parser.add_argument("--test", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.003)
    parser.add_argument("--device", default=None)
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench-train-data")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    train_files = build(args.data / "train", range(0, args.train), TRAIN_VOICES)
    test_files = build(args.data / "test", range(100_000, 100_000 + args.test), TEST_VOICES)
    print(f"data ready in {time.perf_counter() - started:.0f} s", flush=True)
    config = TrainConfig(artifact_types=TYPES, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate)  # fmt: skip
    t0 = time.perf_counter()

    def show(report, progress):
        print(report.to_dict(), flush=True)

    result = train(train_files, config, args.data / "model", on_epoch=show, device=args.device)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    detector = Detector.load(result.model_path)
    model_scores = evaluate(detector, test_files, threshold=None)
    dsp_scores = evaluate_dsp(test_files)
    lines = report(args, result, seconds, peak_mb, model_scores, dsp_scores, detector)
    print("\n".join(lines))
    if not args.no_write:
        title = "Training" + (f" ({result.device})" if result.device != "cpu" else "")
        write_section(ROOT / "docs" / "benchmarks.md", title, "\n".join(lines))


def report(args, result, seconds, peak_mb, model_scores, dsp_scores, detector) -> list[str]:
    lines = [
        f"Command: `python bench/train.py --train {args.train} --test {args.test} --epochs {args.epochs}` "
        f"({time.strftime('%Y-%m-%d')}). Machine: {machine_summary()}; device `{result.device}`.",
        "",
        f"{args.train} training clips ({len(result.validation_files)} of them held out for validation and "
        f"threshold choice) in voices {', '.join(TRAIN_VOICES)}; {args.test} test clips with other seeds "
        f"in voices never heard in training ({', '.join(TEST_VOICES)}). Each clip is ~4 sentences with one "
        "event of each type, delivered as 128 kbps MP3 (as TTS output usually is) and ingested like an "
        "upload. Event-based metrics, onset collar 200 ms, offset collar max(200 ms, 20 %); PSDS over every "
        "threshold of the scores, criteria in relayml/psds.py (the DSP baseline has no scores to sweep). "
        "The DSP baseline is bench/dsp.py (silence runs, -80 dBFS holes, flat-top share, "
        "second-difference bursts).",
        "",
        f"Training: {seconds:.0f} s for {args.epochs} epochs, peak RSS {peak_mb:.0f} MB (whole process).",
        "",
        "| type | detector P | detector R | detector F1 | detector PSDS | DSP baseline F1 | threshold |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in [*TYPES, "overall"]:
        m = model_scores["overall"] if name == "overall" else model_scores["per_type"][name]
        d = dsp_scores["overall"] if name == "overall" else dsp_scores["per_type"][name]
        threshold = detector.thresholds.get(name, "")
        psds = "—" if m["psds"] is None else f"{m['psds']:.3f}"
        row = f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | **{m['f1']:.3f}** | {psds}"
        row += f" | {d['f1']:.3f}"
        lines.append(f"{row} | {threshold} |")
    return lines


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
