"""Where a detector goes wrong on the held-out engine: recall per artifact variant, and its false
detections by where they fall (plain speech, a natural pause, within 500 ms of another event).

    python bench/detector_errors.py relayml/builtin/base-detector-v3.pt [OTHER.pt …] [--test 120]
        [--data var/basemodel-data]

The clips are relayml.basemodel's held-out set (Piper, never trained on; the same seeds), scored at
threshold 0.5 with the contract's collars. Prints a markdown table per model (docs/benchmarks.md
quotes them); this is how each change to the base detector was justified.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from relayml import basemodel  # noqa: E402
from relayml.detect import detections, score_features, stored_features  # noqa: E402
from relayml.events import Event, event_metrics, matches  # noqa: E402
from relayml.model import Detector  # noqa: E402
from relayml.train import TrainFile  # noqa: E402

NEAR_MS = 500


def where(detection: Event, record: dict) -> str:
    """Plain speech, a natural (unlabelled) pause, or near a labelled event."""
    near = [
        x for x in record["labels"] if x["start_ms"] - NEAR_MS < detection.end_ms < x["end_ms"] + 2 * NEAR_MS
    ]
    if near:
        return "near an event"
    pauses = record["natural_pauses_ms"]
    if any(a - 200 < detection.end_ms and detection.start_ms < b + 200 for a, b in pauses):
        return "natural pause"
    return "speech"


def errors(detector: Detector, files: list[TrainFile], records: list[dict]) -> dict:
    hits, totals, false = Counter(), Counter(), Counter()
    pairs = []
    for f, record in zip(files, records, strict=True):
        with torch.no_grad():
            scores = score_features(detector, stored_features(detector, f.features_path))
        found = detections(detector, scores, 0.5, duration_ms=f.duration_ms)
        pairs.append((f.events, found))
        for x, label in zip(record["labels"], f.events, strict=True):
            key = f"{x['artifact_type']}:{x.get('variant') or '-'}"
            totals[key] += 1
            hits[key] += any(d.artifact_type == label.artifact_type and matches(label, d) for d in found)
        for d in found:
            if not any(d.artifact_type == label.artifact_type and matches(label, d) for label in f.events):
                false[(d.artifact_type, where(d, record))] += 1
    metrics = event_metrics(pairs, detector.artifact_types)
    return {"f1": {k: v["f1"] for k, v in metrics["per_type"].items()}, "micro": metrics["overall"]["f1"],
            "recall": {k: (hits[k], totals[k]) for k in sorted(totals)}, "false": false}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--test", type=int, default=basemodel.TEST_CLIPS)
    parser.add_argument("--data", type=Path, default=Path("var/basemodel-data"))
    args = parser.parse_args()
    folder = args.data / "test"
    # The clips with their features and labels; the manifest adds each label's variant and the pauses.
    files = basemodel.generated(folder, args.test, basemodel.TEST_SEED, basemodel.HELD_OUT_ENGINES)
    records = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    results = {m.name: errors(Detector.load(m), files, records) for m in args.models}
    names = list(results)
    print(f"{len(records)} held-out clips ({', '.join(basemodel.HELD_OUT_ENGINES)}), threshold 0.5\n")
    print("| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for kind in basemodel.TYPES:
        print(f"| F1 {kind} | " + " | ".join(f"{results[n]['f1'][kind]:.3f}" for n in names) + " |")
    print("| F1 micro | " + " | ".join(f"{results[n]['micro']:.3f}" for n in names) + " |")
    for key in results[names[0]]["recall"]:
        print(
            f"| recall {key} | "
            + " | ".join("{}/{}".format(*results[n]["recall"][key]) for n in names)
            + " |"
        )
    places = sorted({k for n in names for k in results[n]["false"]})
    for key in places:
        print(
            f"| false {key[0]} in {key[1]} | "
            + " | ".join(str(results[n]["false"][key]) for n in names)
            + " |"
        )


if __name__ == "__main__":
    main()
