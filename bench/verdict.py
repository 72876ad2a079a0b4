"""Synthetic-or-human verdicts: each engine and each speaker held out, beside a simple baseline.

    python bench/verdict.py [--epochs 4] [--data var/verdict-data] [--no-write]
    python bench/verdict.py --folds-from relayml/builtin/verdict-v1.json   # the card's model folds

The folds are relayml.verdict_build's (the built-in model's card carries the same figures). The
baseline is a logistic regression over spectral statistics (each mel band's mean and spread,
spectral flatness): what a team might try first. EER per held-out group; training time on this
machine's CPU. Results go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.report import machine_summary, write_section  # noqa: E402
from relayml import verdict  # noqa: E402
from relayml.realdata import voices  # noqa: E402
from relayml.verdict_build import model_scorer, run_folds, summary  # noqa: E402
from relayml.verdict_train import VerdictTrainConfig  # noqa: E402


def spectral_stats(audio: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        power = verdict.MEL(torch.from_numpy(audio)) + 1e-9
    log_mel = torch.log(power)
    flatness = torch.exp(log_mel.mean(0)) / power.mean(0)
    parts = [log_mel.mean(1), log_mel.std(1), flatness.mean()[None], flatness.std()[None]]
    return torch.cat(parts).numpy()


def baseline(train_audio, train_labels, test_audio, test_labels) -> dict:
    """L2-regularised logistic regression (LBFGS) on standardised spectral statistics."""
    began = time.perf_counter()
    x = torch.tensor(np.stack([spectral_stats(a) for a in train_audio]), dtype=torch.float32)
    mean, std = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / std
    y = torch.tensor(train_labels, dtype=torch.float32)
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([w, b], max_iter=200)

    def closure():
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + 1e-3 * (w**2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    test = (torch.tensor(np.stack([spectral_stats(a) for a in test_audio]), dtype=torch.float32) - mean) / std
    scores = torch.sigmoid(test @ w + b).detach().numpy()
    truth = np.array(test_labels)
    return {
        "files": len(test_audio),
        "eer": round(verdict.equal_error_rate(scores, truth), 4),
        "accuracy": round(float(((scores >= 0.5) == truth).mean()), 4),
        "train_s": round(time.perf_counter() - began),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--epochs", type=int, default=VerdictTrainConfig.epochs)
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "verdict-data")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--folds-from", type=Path, default=None,
        help="take the model's folds from a card relayml.verdict_build wrote (same code, same seeds) "
        "instead of training them again; the baseline is always run",
    )  # fmt: skip
    args = parser.parse_args()
    items = voices.build(args.data)
    audios = [voices.load(args.data, x) for x in items]
    if args.folds_from:
        card = json.loads(args.folds_from.read_text())
        model, args.epochs = card["held_out"]["folds"], card["config"]["epochs"]
    else:
        model = run_folds(items, audios, model_scorer(VerdictTrainConfig(epochs=args.epochs)))
    simple = run_folds(items, audios, baseline)
    lines = report(args, items, audios, model, simple)
    print("\n".join(lines))
    if not args.no_write:
        write_section(ROOT / "docs" / "benchmarks.md", "Synthetic-or-human verdict", "\n".join(lines))


def report(args, items, audios, model: dict, simple: dict) -> list[str]:
    hours = sum(len(a) for a in audios) / verdict.RATE / 3600
    lines = [
        f"Command: `python bench/verdict.py {f'--folds-from {args.folds_from} ' if args.folds_from else ''}"
        f"--epochs {args.epochs}` ({time.strftime('%Y-%m-%d')}). Machine: {machine_summary()}; device `cpu`."
        + (
            " The model's folds are the card's, trained by `python -m relayml.verdict_build` at this commit."
            if args.folds_from
            else ""
        ),
        "",
        f"{len(items)} files ({hours:.1f} h at 8 kHz, relayml.realdata.voices): Asterisk's telephone "
        "prompts by four speakers in five languages, and the same prompts by espeak-ng, flite, festival and "
        "Piper. Each fold holds out one engine (tested against a fixed fifth of the human files) or one "
        "speaker (against a fixed fifth of the synthetic files); file-level EER under the default heuristic "
        "(duration-weighted clips).",
        "",
        "| held out | files | model EER | model accuracy | model training | baseline EER "
        "| baseline accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in model.items():
        b = simple[name]
        lines.append(
            f"| {name} | {m['files']} | **{m['eer']:.3f}** | {m['accuracy']:.3f} | {m['train_s']} s "
            f"| {b['eer']:.3f} | {b['accuracy']:.3f} |"
        )
    ours, theirs = summary(model), summary(simple)
    for kind in ("engine_out", "speaker_out"):
        lines.append(
            f"| **{kind.replace('_', ' ')}: mean / worst** | | **{ours[kind]['mean_eer']:.3f} / "
            f"{ours[kind]['worst_eer']:.3f}** | | | {theirs[kind]['mean_eer']:.3f} / "
            f"{theirs[kind]['worst_eer']:.3f} | |"
        )
    return lines


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
