"""The built-in base detector on a TTS engine it never heard: zero-shot, and fine-tuned vs from scratch.

    python bench/finetune.py [--sizes 10,30,100,150] [--epochs 15] [--no-write]

A team's own TTS output is played by Piper's neural voice, which the built-in base detector
(`relayml/builtin/`) never heard (it trained on espeak-ng, flite, festival and recorded people). The
team annotates N clips (`relayml.realistic`, Piper only, seeds 200000+); for each N a model is trained
from scratch and one is fine-tuned from the base (`relayml.train.train(..., base_model=…)`, what
`config.base_model_id` does), and both are scored on the base's held-out Piper test set (seeds 100000+,
never trained on), at the contract's default threshold 0.5, with event F1 and the contract's collars.
The DSP baseline (bench/dsp.py) is scored on the same clips. Results go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import machine_summary, write_section  # noqa: E402
from bench.train import evaluate_dsp  # noqa: E402
from relayml import basemodel  # noqa: E402
from relayml.detect import evaluate  # noqa: E402
from relayml.model import Detector  # noqa: E402
from relayml.train import TrainConfig, train  # noqa: E402

BASE = ROOT / "relayml" / "builtin" / f"{basemodel.NAME}.pt"
TYPES = basemodel.TYPES


def micro_and_types(scores: dict) -> list[float]:
    return [scores["per_type"][t]["f1"] for t in TYPES] + [scores["overall"]["f1"]]


def row(label: str, values: list[float], seconds: float | None = None) -> str:
    cells = " | ".join(f"{v:.3f}" for v in values)
    return f"| {label} | {cells} | {'' if seconds is None else f'{seconds:.0f} s'} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="10,30,100,150")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "basemodel-data")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    team = basemodel.generated(args.data / "piper-team", max(sizes), 200_000, ("piper",))
    test = basemodel.generated(
        args.data / "test", basemodel.TEST_CLIPS, basemodel.TEST_SEED, basemodel.HELD_OUT_ENGINES
    )
    lines = [
        f"Command: `python bench/finetune.py --sizes {args.sizes} --epochs {args.epochs}` "
        f"({time.strftime('%Y-%m-%d')}). Machine: {machine_summary()}; device `cpu`.",
        "",
        f"Test: {len(test)} Piper clips (never trained on), threshold 0.5, event F1. Team data: N Piper "
        f"clips of other seeds; {args.epochs} epochs; from scratch at learning rate 0.003 (its best on "
        "small sets), fine-tuned from the base at 0.001 (the API's default).",
        "",
        f"| model | {' | '.join(TYPES)} | micro | training |",
        f"|---|{'---|' * len(TYPES)}---|---|",
        row("DSP baseline (bench/dsp.py)", micro_and_types(evaluate_dsp(test))),
        row(f"{basemodel.NAME}, zero-shot", micro_and_types(evaluate(Detector.load(BASE), test))),
    ]
    print("\n".join(lines), flush=True)
    for n in sizes:
        for label, lr, base in (("from scratch", 0.003, None), ("fine-tuned from the base", 0.001, BASE)):
            config = TrainConfig(artifact_types=TYPES, epochs=args.epochs, learning_rate=lr)
            began = time.perf_counter()
            result = train(team[:n], config, args.data / "curve" / f"{n}-{lr}", base_model=base)
            seconds = time.perf_counter() - began
            scores = evaluate(Detector.load(result.model_path), test)
            lines.append(row(f"{n} clips, {label}", micro_and_types(scores), seconds))
            print(lines[-1], flush=True)
    if not args.no_write:
        title = "Built-in base detector and fine-tuning"
        write_section(ROOT / "docs" / "benchmarks.md", title, "\n".join(lines))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
