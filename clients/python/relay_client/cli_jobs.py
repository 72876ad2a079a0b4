"""`relay infer` and `relay check`: run an inference job over local files, then write or judge it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from relay_client import Relay
from relay_client.cli_common import Mover, bar, model_id, with_relay
from relay_client.files import audio_files, read_scripts, write_beside
from relay_client.gate import judge, parse_rules

OUTPUT_SUFFIX = {"json": ".json", "csv": ".csv", "audacity": ".txt"}


def run_job(
    relay: Relay, files: list[Path], model: str | None, analyses: list[str], scripts: dict[str, str],
    config: dict[str, Any],
) -> tuple[dict[str, Any], dict[Path, dict[str, Any]]]:  # fmt: skip
    """Create the job, upload every file (with its script), wait; the job and each file's answer."""
    chosen = model_id(relay, model) if model else None
    job = relay.inference.create(chosen, analyses=analyses, **config)
    click.echo(f"inference job {job['id']}", err=True)
    ids: dict[Path, str] = {}
    with bar("uploading", sum(f.stat().st_size for f in files)) as progress:
        to = Mover(progress)
        for f in files:
            ids[f] = relay.inference.upload(job["id"], f, expected_text=scripts.get(f.name), progress=to)[
                "id"
            ]
            to.base += f.stat().st_size  # the bar spans every file
    with bar("processing", len(files)) as progress:
        to = Mover(progress)
        finished = ("processed_files", "failed_files")
        job = relay.inference.wait(job["id"], on_poll=lambda j: to(sum(int(j.get(k, 0)) for k in finished)))
    answers = {f: dict(relay.inference.file(job["id"], file_id)) for f, file_id in ids.items()}
    return dict(job), answers


def analyses_for(model: str | None, transcript: bool, verdict: bool) -> list[str]:
    wanted = (["artifacts"] if model else []) + (["transcript"] if transcript else [])
    wanted += ["verdict"] if verdict else []
    if not wanted:
        raise click.UsageError(
            "nothing to run: give --model, or ask for a transcript (--scripts / --transcript)"
        )
    return wanted


def job_config(threshold: float | None, speech_model: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if threshold is not None:
        config["threshold"] = threshold
    if speech_model:
        config["speech_model"] = speech_model
    return config


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--model", help="a model's id or name (e.g. relay-base-detector-v3)")
@click.option("--scripts", type=click.Path(exists=True, path_type=Path), help="JSON/CSV: filename → script")
@click.option("--transcript", is_flag=True, help="hear the speech too (implied by --scripts)")
@click.option("--speech-model", default=None, help="whisper-base (default) or whisper-tiny.en")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None)
@click.option(
    "--format", "formats", default="json", show_default=True, help="comma-separated: json, csv, audacity"
)
@with_relay
def infer(
    relay: Relay, paths: tuple[Path, ...], model: str | None, scripts: Path | None, transcript: bool,
    speech_model: str | None, threshold: float | None, formats: str,
) -> None:  # fmt: skip
    """Run a model over audio files or folders; write each file's results next to it
    (take1.wav → take1.relay.json, .relay.csv, .relay.txt for Audacity)."""
    wanted = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in OUTPUT_SUFFIX]
    if unknown:
        raise click.UsageError(f"unknown format {unknown[0]!r}: json, csv or audacity")
    texts = read_scripts(scripts) if scripts else {}
    files = audio_files(paths)
    analyses = analyses_for(model, transcript or bool(scripts), False)
    job, answers = run_job(relay, files, model, analyses, texts, job_config(threshold, speech_model))
    for f, answer in answers.items():
        for fmt in wanted:
            if fmt == "json":
                content = json.dumps(answer, indent=2, ensure_ascii=False).encode()
            else:
                content = relay.inference.export(job["id"], fmt, answer["id"])
            write_beside(f, OUTPUT_SUFFIX[fmt], content)
        state = answer["status"] if answer["status"] != "completed" else f"{answer['detection_count']} found"
        click.echo(f"{f}: {state}")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--model", help="a model's id or name (e.g. relay-base-detector-v3)")
@click.option(
    "--fail-on", default=None, help="e.g. 'glitch>=0.8,clipping>=0.9,omission' (default: any detection)"
)
@click.option("--scripts", type=click.Path(exists=True, path_type=Path), help="JSON/CSV: filename → script")
@click.option("--max-wer", type=click.FloatRange(0), default=None, help="fail a file above this WER")
@click.option("--verdict", type=click.Choice(["human", "artificial"]), default=None, help="expected verdict")
@click.option("--speech-model", default=None, help="whisper-base (default) or whisper-tiny.en")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None, help="the job's detection threshold")
@click.option("--json", "as_json", is_flag=True, help="a JSON report on stdout, for machines")
@with_relay
def check(
    relay: Relay, paths: tuple[Path, ...], model: str | None, fail_on: str | None, scripts: Path | None,
    max_wer: float | None, verdict: str | None, speech_model: str | None, threshold: float | None,
    as_json: bool,
) -> None:  # fmt: skip
    """A release gate: check audio files or folders and exit 1 if any fails (0 if all pass)."""
    rules = parse_rules(fail_on)
    if max_wer is not None and not scripts:
        raise click.UsageError("--max-wer needs --scripts: a WER is measured against the script")
    texts = read_scripts(scripts) if scripts else {}
    files = audio_files(paths)
    analyses = analyses_for(model, bool(scripts), verdict is not None)
    _, answers = run_job(relay, files, model, analyses, texts, job_config(threshold, speech_model))
    verdicts = [
        judge(str(f), answers[f], rules, max_wer, f.name in texts, verdict) for f in files
    ]  # fmt: skip
    report(verdicts, as_json)
    sys.exit(0 if all(v.passed for v in verdicts) else 1)


def report(verdicts: list[Any], as_json: bool) -> None:
    failing = [v for v in verdicts if not v.passed]
    if as_json:
        body = {"passed": not failing, "files": [v.to_dict() for v in verdicts]}
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    if failing:
        width = max(len(v.name) for v in failing)
        click.echo(f"{'FILE'.ljust(width)}  WHY")
        for v in failing:
            for i, reason in enumerate(v.reasons):
                click.echo(f"{(v.name if i == 0 else '').ljust(width)}  {reason}")
    click.echo(
        f"{len(failing)} of {len(verdicts)} file(s) failed" if failing else f"all {len(verdicts)} passed"
    )
