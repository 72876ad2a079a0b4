"""End-to-end inference throughput and peak memory on long files (decode → features → model → post-process).

    python bench/infer.py [--lengths 1,60,180] [--device cpu|cuda] [--format wav|mp3] [--no-write]

Builds programmes of espeak-ng speech with injected artifacts (24 kHz mono 16-bit WAV, the usual TTS
output, or 128 kbps MP3) of each length in minutes, trains a small detector (2 epochs: throughput does
not depend on how good it is), then runs `relayml.infer.infer_files` plus the contract's
post-processing on each file in a fresh process, measuring wall time and peak resident memory.
Results go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import CODECS, build_programme  # noqa: E402
from bench.report import machine_summary, write_section  # noqa: E402


def build_audio(folder: Path, minutes: float, fmt: str) -> Path:
    """24 kHz mono, the usual TTS output, as WAV or 128 kbps MP3."""
    name = f"programme-{minutes:g}min.{fmt}"
    return build_programme(folder, minutes, name, channels=1, rate=24_000, codec=CODECS[fmt])


def train_model(folder: Path) -> Path:
    from relayml.synth import train_files
    from relayml.train import TrainConfig, train

    clips = folder / "clips"
    clips.mkdir()
    files = train_files(clips, count=4, seed_base=1200)
    config = TrainConfig(
        artifact_types=["glitch", "long_pause", "clipping", "dropout"], epochs=2, batch_size=16
    )
    return train(files, config, folder / "model").model_path


def child(model_path: str, audio: str, out_dir: str, device: str) -> None:
    """Files (comma-separated) in one call, as the worker runs a job; prints a JSON line."""
    import os

    import torch

    from relayml.infer import infer_files
    from relayml.model import Detector
    from relayml.scores import detections_from_scores, load_scores

    torch.set_num_threads(os.cpu_count() or 1)
    started = time.perf_counter()
    detector = Detector.load(Path(model_path), device)
    types, frame_ms = detector.artifact_types, detector.geometry["frame_ms"]
    items = [(i, path, Path(out_dir) / str(i)) for i, path in enumerate(audio.split(","))]
    total_ms, found, scores = 0, 0, None
    for result in infer_files(detector, items, device=device):
        scores = load_scores(result.scores_path, len(types))
        found += len(detections_from_scores(scores, types, frame_ms, 0.5, 200, 50, result.duration_ms))
        total_ms += result.duration_ms
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    rethreshold = time.perf_counter()
    detections_from_scores(scores, types, frame_ms, 0.7, 200, 50)
    rethreshold = time.perf_counter() - rethreshold
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "duration_ms": total_ms, "detections": found, "files": len(items),
                      "peak_mb": peak_mb, "rethreshold_s": rethreshold}))  # fmt: skip


def run_child(model: Path, audio: list[Path], out_dir: Path, device: str) -> dict:
    line = (
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(model),
                ",".join(map(str, audio)),
                str(out_dir),
                device,
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return json.loads(line)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(*sys.argv[2:6])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lengths", default="1,60,180", help="minutes, comma separated")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--format", default="wav", choices=["wav", "mp3"])
    parser.add_argument("--batch", type=int, default=20, help="also N one-minute files in one job (0: skip)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="relay-infer-bench-") as tmp:
        folder = Path(tmp)
        model = train_model(folder)
        for minutes in [float(m) for m in args.lengths.split(",")]:
            audio = build_audio(folder, minutes, args.format)
            measured = run_child(model, [audio], folder / f"out-{minutes:g}", args.device)
            measured.update(label=f"{minutes:g} min", size_mb=audio.stat().st_size / 1e6)
            audio.unlink()
            print(measured)
            rows.append(measured)
        if args.batch:
            one = build_audio(folder, 1, args.format)
            measured = run_child(model, [one] * args.batch, folder / "out-batch", args.device)
            measured.update(
                label=f"{args.batch} × 1 min, one job", size_mb=args.batch * one.stat().st_size / 1e6
            )
            print(measured)
            rows.append(measured)
    report(args, rows)


def report(args, rows: list[dict]) -> None:
    device = args.device
    if device.startswith("cuda"):
        import torch

        device = f"CUDA ({torch.cuda.get_device_name(0)})"
    lines = [
        f"`python bench/infer.py --lengths {args.lengths} --device {args.device} --format {args.format}`: "
        f"speech programmes as {'24 kHz mono 16-bit WAV' if args.format == 'wav' else '128 kbps MP3'}, "
        "each run in a fresh process: load the model, decode, resample to 16 kHz, features (log-mel and "
        "waveform detail), score with context, write the uint8 frame scores and peaks, post-process "
        "(threshold 0.5, merge 200 ms, "
        f"min 50 ms). Device: {device}. Machine: {machine_summary()}. Times include starting the model "
        "(about 0.1 s); the batch row is many one-minute files in one job, as the worker runs them "
        "(the model loads once and windows of consecutive files share batches).",
        "",
        "| audio | file | wall time | × real time | peak RSS | re-threshold from stored scores |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        speed = r["duration_ms"] / 1000 / r["seconds"]
        lines.append(
            f"| {r['label']} | {r['size_mb']:.0f} MB | {r['seconds']:.1f} s | {speed:.0f}× | "
            f"{r['peak_mb']:.0f} MB | {r['rethreshold_s'] * 1000:.0f} ms |"
        )
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        title = f"Inference ({'GPU' if args.device.startswith('cuda') else 'CPU'}, {args.format.upper()})"
        write_section(ROOT / "docs" / "benchmarks.md", title, text)


if __name__ == "__main__":
    main()
