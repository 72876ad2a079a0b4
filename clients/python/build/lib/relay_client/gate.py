"""The release gate behind `relay check`: which files fail, and why.

Rules (`--fail-on`): comma-separated `TYPE>=CONFIDENCE` (or `>`), `TYPE` alone (any confidence), or
`any>=0.8` for every type. Script-check findings (`omission`, `hallucination`, `mispronunciation`)
are detections too, so `--fail-on 'glitch>=0.8,omission'` works. Without rules, any detection fails
the file. `max_wer` fails a file whose transcript's word error rate against its script is higher;
`expected_verdict` (human / artificial) one whose synthetic-vs-human verdict differs.
A file the server could not process always fails: nothing was checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

RULE = re.compile(r"^\s*(?P<type>[a-z0-9_]+|any)\s*(?:(?P<op>>=|>)\s*(?P<value>[0-9]*\.?[0-9]+))?\s*$")


@dataclass(frozen=True)
class Rule:
    artifact_type: str  # or "any"
    minimum: float = 0.0
    strict: bool = False

    def hit(self, detection: dict[str, Any]) -> bool:
        if self.artifact_type not in ("any", detection["artifact_type"]):
            return False
        confidence = float(detection.get("confidence", 1.0))
        return confidence > self.minimum if self.strict else confidence >= self.minimum

    def __str__(self) -> str:
        if not self.minimum and not self.strict:
            return self.artifact_type
        return f"{self.artifact_type}{'>' if self.strict else '>='}{self.minimum:g}"


def parse_rules(text: str | None) -> list[Rule]:
    """`glitch>=0.8,clipping>0.9,omission` → rules; a malformed rule is a ValueError naming it."""
    rules = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        match = RULE.match(part)
        if not match:
            raise ValueError(f"cannot read rule {part.strip()!r}: write TYPE>=CONFIDENCE, e.g. glitch>=0.8")
        value = float(match["value"]) if match["value"] else 0.0
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"rule {part.strip()!r}: a confidence is between 0 and 1")
        rules.append(Rule(match["type"], value, match["op"] == ">"))
    return rules


@dataclass
class Verdict:
    name: str
    passed: bool = True
    reasons: list[str] = field(default_factory=list)
    detections: list[dict[str, Any]] = field(default_factory=list)
    wer: float | None = None

    def fail(self, reason: str) -> None:
        self.passed = False
        self.reasons.append(reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "passed": self.passed,
            "reasons": self.reasons,
            "wer": self.wer,
            "detections": self.detections,
        }


def judge(
    name: str,
    result: dict[str, Any],
    rules: list[Rule],
    max_wer: float | None = None,
    has_script: bool = False,
    expected_verdict: str | None = None,
) -> Verdict:
    """One inference file's answer against the gate."""
    verdict = Verdict(name)
    if result.get("status") != "completed":
        verdict.fail(f"not processed: {result.get('error_message') or result.get('status')}")
        return verdict
    detections = result.get("detections") or []
    verdict.wer = (result.get("transcript") or {}).get("wer")
    failing = [d for d in detections if any(r.hit(d) for r in rules)] if rules else list(detections)
    verdict.detections = failing
    for d in failing:
        heard = d.get("details") or {}
        words = f" ({heard.get('expected', '')!r} → {heard.get('heard', '')!r})" if heard else ""
        at = f"{d['start_ms'] / 1000:.2f}–{d['end_ms'] / 1000:.2f} s"
        verdict.fail(f"{d['artifact_type']} {float(d.get('confidence', 1)):.2f} at {at}{words}")
    if max_wer is not None:
        if not has_script:
            verdict.fail("no script for this file: its WER cannot be checked")
        elif verdict.wer is None:
            verdict.fail("no WER: the transcript was not checked against the script")
        elif verdict.wer > max_wer:
            verdict.fail(f"WER {verdict.wer:.3f} > {max_wer:g}")
    if expected_verdict is not None:
        heard = (result.get("verdict") or {}).get("classification")
        if heard != expected_verdict:
            verdict.fail(f"verdict {heard or 'missing'}, expected {expected_verdict}")
    return verdict
