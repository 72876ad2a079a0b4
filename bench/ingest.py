"""Ingest throughput and peak memory on long files, through the same code the worker runs.

    python bench/ingest.py [--minutes 60] [--formats wav,mp3,flac,m4a] [--no-write]

Builds an N-minute programme of espeak-ng speech with injected artifacts (44.1 kHz stereo, as
TTS exports usually are), encodes it in each format with ffmpeg, and runs relayml.ingest.process
(decode → 16 kHz mono → canonical WAV, peaks, SHA-256 → log-mel features) in a fresh process per
file, measuring wall time and peak resident memory. Results go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import machine_summary, write_section  # noqa: E402
from relayml import synth  # noqa: E402

CODECS = {
    "wav": ["-c:a", "pcm_s16le"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    "flac": ["-c:a", "flac"],
    "m4a": ["-c:a", "aac", "-b:a", "128k"],
}


def build_programme(
    folder: Path,
    minutes: float,
    name: str = "programme.wav",
    channels: int = 2,
    rate: int = 44_100,
    codec: list[str] | None = None,
) -> Path:
    """A few minutes of distinct clips (made once per folder), looped by ffmpeg to the wanted length
    and encoded as asked (by default 44.1 kHz stereo WAV, as TTS exports usually are)."""
    import numpy as np
    import soundfile as sf

    base = folder / "base.wav"
    if not base.exists():
        clips = [synth.make_clip(seed, sentences=4).audio for seed in range(12)]
        sf.write(base, np.concatenate(clips), synth.SAMPLE_RATE, subtype="PCM_16")
    out = folder / name
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(base), "-t", str(int(minutes * 60)),
         "-ac", str(channels), "-ar", str(rate), *(codec or CODECS["wav"]), str(out)],
        check=True,
    )  # fmt: skip
    return out


def encode(source: Path, fmt: str) -> Path:
    out = source.with_name(f"programme.{fmt}")
    if fmt != "wav":
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), *CODECS[fmt], str(out)], check=True)
    else:
        out = source
    return out


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import torch
torch.set_num_threads({threads})
from relayml.ingest import process
start = time.perf_counter()
result = process({path!r}, {out!r})
elapsed = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": elapsed, "duration_ms": result.duration_ms, "peak_mb": peak_mb}}))
"""


def measure(path: Path, out: Path, threads: int) -> dict:
    code = CHILD.format(root=str(ROOT), path=str(path), out=str(out), threads=threads)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline_mb() -> float:
    """Peak memory of a process that only imports the same libraries (torch dominates)."""
    code = "import resource, torch, torchaudio, soundfile, numpy; " \
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"  # fmt: skip
    return float(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--formats", default="wav,mp3,flac,m4a")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("RELAY_BENCH_TMP")) as tmp:
        source = build_programme(Path(tmp), args.minutes)
        for fmt in args.formats.split(","):
            path = encode(source, fmt)
            result = measure(path, Path(tmp) / f"out-{fmt}", args.threads)
            audio_s = result["duration_ms"] / 1000
            speed = audio_s / result["seconds"]
            size_mb = path.stat().st_size / 1e6
            rows.append(
                {"format": fmt, "size_mb": size_mb, "audio_s": audio_s, **result, "x_realtime": speed}
            )
            print(f"{fmt}: {audio_s / 60:.1f} min in {result['seconds']:.1f} s = {speed:.0f}× real time, "
                  f"peak {result['peak_mb']:.0f} MB", flush=True)  # fmt: skip
    base = baseline_mb()
    lines = [
        f"Command: `python bench/ingest.py --minutes {args.minutes:g}` ({time.strftime('%Y-%m-%d')}, "
        f"{args.threads} torch threads). Machine: {machine_summary()}.",
        "",
        "Each file is a 44.1 kHz stereo programme of espeak-ng speech, ingested in a fresh process by",
        "`relayml.ingest.process` (decode → 16 kHz mono canonical WAV + peaks + SHA-256 → log-mel features).",
        f"Peak memory includes the libraries themselves: importing torch, torchaudio and soundfile alone "
        f"peaks at {base:.0f} MB.",
        "",
        "| format | file size | audio | ingest time | throughput (audio s / s) | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['format']} | {r['size_mb']:.0f} MB | {r['audio_s'] / 60:.0f} min | {r['seconds']:.1f} s "
            f"| {r['x_realtime']:.0f}× | {r['peak_mb']:.0f} MB |"
        )
    if not args.no_write:
        write_section(ROOT / "docs" / "benchmarks.md", "Ingest", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
