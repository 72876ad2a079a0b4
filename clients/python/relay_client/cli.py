"""`relay`: the Relay API from a shell or a CI pipeline.

    export RELAY_BASE_URL=http://127.0.0.1:8000 RELAY_API_KEY=...
    relay check renders/ --model relay-base-detector-v3 --fail-on 'glitch>=0.8,clipping>=0.9'

Exit status: 0 when everything asked for passed, 1 when `relay check` found a failing file, 2 for a
usage error or an error from the server (its `detail` is printed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from relay_client import Relay, __version__
from relay_client.cli_common import Mover, Settings, bar, model_id, show, with_relay
from relay_client.cli_jobs import check, infer
from relay_client.files import audio_files, read_scripts, sha256_of


@click.group()
@click.option("--base-url", envvar="RELAY_BASE_URL", help="the server, e.g. http://127.0.0.1:8000")
@click.option("--api-key", envvar="RELAY_API_KEY", help="a team key (Settings → API keys)")
@click.version_option(__version__, prog_name="relay")
@click.pass_context
def main(ctx: click.Context, base_url: str | None, api_key: str | None) -> None:
    """Relay: find what is wrong in voice-AI audio."""
    ctx.obj = Settings(base_url, api_key)


@main.command()
@with_relay
def health(relay: Relay) -> None:
    """The server's health: database, queues, workers."""
    show(relay.health())


# Datasets ----------------------------------------------------------------------------------------


@main.group()
def datasets() -> None:
    """List, create and inspect datasets."""


@datasets.command("list")
@with_relay
def datasets_list(relay: Relay) -> None:
    for d in relay.datasets.list():
        types = ",".join(t["name"] for t in d.get("artifact_types", []))
        click.echo(f"{d['id']}  {d['name']}  audio={d.get('audio_count', 0)}  types={types}")


@datasets.command("create")
@click.argument("name")
@click.option("--type", "types", multiple=True, required=True, help="an artifact type (repeat)")
@click.option("--description", default="")
@with_relay
def datasets_create(relay: Relay, name: str, types: tuple[str, ...], description: str) -> None:
    show(relay.datasets.create(name, list(types), description))


@datasets.command("show")
@click.argument("dataset_id")
@with_relay
def datasets_show(relay: Relay, dataset_id: str) -> None:
    show(relay.datasets.get(dataset_id))


@main.command()
@click.argument("dataset_id")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--scripts", type=click.Path(exists=True, path_type=Path), help="JSON/CSV: filename → script")
@click.option("--wait/--no-wait", default=True, help="wait until every new file is processed")
@with_relay
def upload(relay: Relay, dataset_id: str, paths: tuple[Path, ...], scripts: Path | None, wait: bool) -> None:
    """Upload audio files or folders to a dataset, skipping files it already holds (same sha256)."""
    texts = read_scripts(scripts) if scripts else {}
    held = relay.audio.list(dataset_id)
    hashes = {a.get("sha256") for a in held if a.get("sha256")}
    files = audio_files(paths)
    new = [f for f in files if sha256_of(f) not in hashes]
    click.echo(f"{len(files) - len(new)} already uploaded, {len(new)} to upload", err=True)
    uploaded = []
    for f in new:
        with bar(f.name, f.stat().st_size) as progress:
            to = Mover(progress)
            uploaded.append(relay.audio.upload(dataset_id, f, expected_text=texts.get(f.name), progress=to))
    failed = 0
    if wait:
        for a in uploaded:
            a = relay.audio.wait_ready(dataset_id, a["id"])
            if a["processing_status"] == "failed":
                failed += 1
                click.echo(f"{a['original_filename']}: failed: {a.get('error_message')}", err=True)
    click.echo(f"uploaded {len(uploaded)} file(s)" + (f", {failed} failed processing" if failed else ""))
    if failed:
        sys.exit(1)


# Annotation sets ---------------------------------------------------------------------------------


@main.group("annotations")
def annotations_group() -> None:
    """Import and export annotation sets."""


@annotations_group.command("export")
@click.argument("dataset_id")
@click.argument("set_id")
@click.option("--format", "fmt", default="json", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="a file (default: stdout)")
@with_relay
def annotations_export(relay: Relay, dataset_id: str, set_id: str, fmt: str, output: Path | None) -> None:
    content = relay.annotation_sets.export(dataset_id, set_id, fmt)
    if output:
        output.write_bytes(content)
    else:
        sys.stdout.buffer.write(content)


@annotations_group.command("import")
@click.argument("dataset_id")
@click.argument("set_id")
@click.argument("document", type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", default=None, help="default: detected from the document")
@click.option("--replace", is_flag=True, help="first remove the annotations of the files it covers")
@with_relay
def annotations_import(
    relay: Relay, dataset_id: str, set_id: str, document: Path, fmt: str | None, replace: bool
) -> None:
    """Into a draft set, all or nothing."""
    result = relay.annotation_sets.import_file(dataset_id, set_id, document, fmt=fmt, replace=replace)
    click.echo(f"imported {result['created']} annotation(s)")


@annotations_group.command("create")
@click.argument("dataset_id")
@click.option("--copy-from", default=None, help="start from this set's annotations")
@with_relay
def annotations_create(relay: Relay, dataset_id: str, copy_from: str | None) -> None:
    """A new draft set (the next version); prints its id."""
    s = relay.annotation_sets.create(dataset_id, copy_from)
    click.echo(f"draft version {s['version']}", err=True)
    click.echo(s["id"])


@annotations_group.command("publish")
@click.argument("dataset_id")
@click.argument("set_id")
@with_relay
def annotations_publish(relay: Relay, dataset_id: str, set_id: str) -> None:
    s = relay.annotation_sets.publish(dataset_id, set_id)
    click.echo(f"published version {s['version']} ({s.get('total_annotations', 0)} annotations)")


# Training and models -----------------------------------------------------------------------------


@main.command()
@click.argument("dataset_id")
@click.argument("set_id")
@click.option("--type", "types", multiple=True, required=True, help="an artifact type to learn (repeat)")
@click.option("--epochs", type=int, default=None)
@click.option("--base-model", default=None, help="fine-tune this model (e.g. the built-in base detector)")
@click.option("--wait/--no-wait", default=True)
@with_relay
def train(
    relay: Relay, dataset_id: str, set_id: str, types: tuple[str, ...], epochs: int | None,
    base_model: str | None, wait: bool,
) -> None:  # fmt: skip
    """Train a detector on a published annotation set; prints the model's id when done."""
    config: dict[str, Any] = {"artifact_types": list(types)}
    if epochs:
        config["epochs"] = epochs
    if base_model:
        config["base_model_id"] = model_id(relay, base_model)
    job = relay.training_jobs.create(dataset_id, set_id, **config)
    click.echo(f"training job {job['id']}", err=True)
    if not wait:
        return
    with bar("training", 100) as progress:
        to = Mover(progress)
        job = relay.training_jobs.wait(
            job["id"], on_poll=lambda j: to(int(100 * float(j.get("progress") or 0)))
        )
    if job["status"] != "completed":
        raise click.ClickException(f"training {job['status']}: {job.get('error_message')}")
    click.echo(job["model_id"])


@main.group()
def models() -> None:
    """List and inspect models."""


@models.command("list")
@with_relay
def models_list(relay: Relay) -> None:
    for m in relay.models.list():
        builtin = " (built-in)" if m.get("is_builtin") else ""
        click.echo(f"{m['id']}  {m['name']}{builtin}  types={','.join(m.get('artifact_types', []))}")


@models.command("show")
@click.argument("model")
@with_relay
def models_show(relay: Relay, model: str) -> None:
    show(relay.models.get(model_id(relay, model)))


main.add_command(infer)
main.add_command(check)
