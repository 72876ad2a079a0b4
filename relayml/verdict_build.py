"""Relay's built-in verdict model (synthetic or human), rebuilt and evaluated by one command.

    python -m relayml.verdict_build --out relayml/builtin [--epochs 6] [--data var/verdict-data]

Data: relayml.realdata.voices (telephone prompts by four human speakers in five languages; the same
prompts by espeak-ng, flite, festival and Piper). The only honest figures hold a whole engine or a
whole speaker out: in-domain accuracy says nothing about an engine the model never heard. So the
command first trains once per held-out group and scores it (leave-one-engine-out: that engine's
speech against a fifth of the human files; leave-one-speaker-out: that speaker against a fifth of
the synthetic files), then trains the shipped model on everything. Writes NAME.pt and NAME.json
(the card: figures per fold, config, time taken, the weights' sha256). Seeded throughout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from relayml.ingest import sha256_of
from relayml.realdata import voices
from relayml.verdict import RATE, VerdictModel
from relayml.verdict_train import VerdictTrainConfig, evaluate, train

NAME = "verdict-v1"
ENGINES = ("espeak", "flite", "festival", "piper")
SPEAKERS = ("allison", "june", "carlo", "ivr-ru")


def in_test_fifth(key: str) -> bool:
    """A fixed fifth of the files (by a hash of the key, so it never depends on order)."""
    return hashlib.sha256(key.encode()).digest()[0] < 52


def folds(items: list[voices.Item]) -> list[tuple[str, list[int], list[int]]]:
    """(name, train indices, test indices) for each held-out engine and speaker: the held-out
    group against a fixed fifth of the other class."""
    out = []
    for held in [f"engine:{e}" for e in ENGINES] + [f"speaker:{s}" for s in SPEAKERS]:
        other = voices.HUMAN if held.startswith("engine:") else voices.ARTIFICIAL
        test = [
            i for i, x in enumerate(items) if x.group == held or (x.label == other and in_test_fifth(x.key))
        ]  # fmt: skip
        chosen = set(test)
        out.append((held, [i for i in range(len(items)) if i not in chosen], test))
    return out


def label_of(item: voices.Item) -> int:
    return int(item.label == voices.ARTIFICIAL)


Scorer = Callable[[list[np.ndarray], list[int], list[np.ndarray], list[int]], dict]


def model_scorer(config: VerdictTrainConfig) -> Scorer:
    def run(train_audio, train_labels, test_audio, test_labels) -> dict:
        began = time.perf_counter()
        model = train(train_audio, train_labels, config)
        return {**evaluate(model, test_audio, test_labels), "train_s": round(time.perf_counter() - began)}

    return run


def run_folds(items: list[voices.Item], audios: list[np.ndarray], scorer: Scorer, log=print) -> dict:
    results = {}
    for name, train_idx, test_idx in folds(items):
        result = scorer(
            [audios[i] for i in train_idx], [label_of(items[i]) for i in train_idx],
            [audios[i] for i in test_idx], [label_of(items[i]) for i in test_idx],
        )  # fmt: skip
        results[name] = result
        log(f"{name}: {json.dumps(result)}")
    return results


def summary(results: dict) -> dict:
    out = {}
    for kind in ("engine", "speaker"):
        eers = [r["eer"] for name, r in results.items() if name.startswith(kind)]
        out[f"{kind}_out"] = {
            "mean_eer": round(float(np.mean(eers)), 4),
            "worst_eer": round(float(np.max(eers)), 4),
        }
    return out


def build(out: Path, data: Path, config: VerdictTrainConfig, log=print) -> dict:
    began = time.perf_counter()
    items = voices.build(data)
    audios = [voices.load(data, x) for x in items]
    data_s = time.perf_counter() - began
    results = run_folds(items, audios, model_scorer(config), log)
    t0 = time.perf_counter()
    model = train(audios, [label_of(x) for x in items], config)
    train_s = time.perf_counter() - t0
    card: dict = {
        "name": NAME,
        "labels": ["human", "artificial"],
        "config": asdict(config),
        "data": {
            "files": len(items),
            "hours": round(sum(len(a) for a in audios) / RATE / 3600, 2),
            "groups": sorted({x.group for x in items}),
        },
        "held_out": {"folds": results, **summary(results)},
        "command": f"python -m relayml.verdict_build --out {out} --epochs {config.epochs} "
        f"--seed {config.seed}",
        "built": {
            "data_s": round(data_s), "train_s": round(train_s), "total_s": round(time.perf_counter() - began),
            "device": "cpu", "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "date": time.strftime("%Y-%m-%d"),
        },
    }  # fmt: skip
    model.metrics = card["held_out"]
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / f"{NAME}.pt")
    card["sha256"] = sha256_of(str(out / f"{NAME}.pt"))
    (out / f"{NAME}.json").write_text(json.dumps(card, indent=1) + "\n")
    return card


def load_builtin(folder: Path) -> VerdictModel:
    """The shipped model, refused unless its weights match the card's sha256."""
    card = json.loads((folder / f"{NAME}.json").read_text())
    if sha256_of(str(folder / f"{NAME}.pt")) != card["sha256"]:
        raise ValueError(f"{folder / NAME}.pt does not match its card's sha256")
    return VerdictModel.load(folder / f"{NAME}.pt")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("var/verdict-data"))
    parser.add_argument("--epochs", type=int, default=VerdictTrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if need := voices.missing():
        raise SystemExit(f"missing Debian packages: apt-get install {' '.join(need)}")
    card = build(args.out, args.data, VerdictTrainConfig(epochs=args.epochs, seed=args.seed))
    print(
        json.dumps({k: card["held_out"][k] for k in ("engine_out", "speaker_out")} | {"built": card["built"]})
    )


if __name__ == "__main__":
    main()
