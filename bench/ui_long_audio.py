"""Time from navigation to an interactive annotation workspace for a long file, in a real browser.

    python bench/ui_long_audio.py [--minutes 120] [--runs 5] [--no-write]

Builds an N-minute MP3 programme of espeak-ng speech (44.1 kHz stereo, 128 kbps, as TTS exports often
are), ingests it through the real pipeline into a throw-away SQLite instance, serves it with
gunicorn (as `make run` does), and opens the annotation page in Debian's Chromium (Playwright)
`--runs` times.
"Interactive" is the page's own signal: peaks drawn, annotations loaded, regions and shortcuts wired
(`body[data-workspace=ready]`); the time is measured by the page (performance.now() at that moment,
i.e. since navigation started). Results go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import CODECS, build_programme  # noqa: E402
from bench.report import machine_summary, write_section  # noqa: E402

USER, PASSWORD = "bench", "bench-relay-123"


def set_up_instance(mp3: Path) -> tuple[str, int]:
    """Migrate, create a user and a dataset, ingest the file; returns (annotate path, duration_ms)."""
    import django
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    django.setup()
    from datasets import annotations, services, tasks
    from relayweb.models import Membership, Role, Team

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    team = Team.objects.create(name="Bench")
    user = get_user_model().objects.create_user(USER, password=PASSWORD)
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    dataset = services.create_dataset(team, "Long audio", "", [{"name": "glitch"}, {"name": "long_pause"}])
    audio = services.create_audio(dataset, mp3.name, "audio/mpeg", mp3.stat().st_size)
    services.store_upload(audio, SimpleUploadedFile(mp3.name, mp3.read_bytes(), "audio/mpeg"))
    started = time.perf_counter()
    assert tasks.ingest_audio(str(audio.id)) == "ready"
    print(f"ingested in {time.perf_counter() - started:.1f} s")
    audio.refresh_from_db()
    draft = annotations.create_set(dataset)
    glitch = dataset.artifact_types.get(name="glitch")
    # A working set's worth of annotations spread over the file (one a minute).
    items = [
        {
            "audio_file": audio,
            "artifact_type": glitch,
            "start_ms": m * 60_000 + 500,
            "end_ms": m * 60_000 + 560,
        }
        for m in range(audio.duration_ms // 60_000)
    ]
    annotations.create_annotations(draft, items)
    return f"/datasets/{dataset.id}/sets/{draft.id}/annotate/{audio.id}/", audio.duration_ms


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(base: str, path: str, runs: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{base}/login/")
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/datasets/")
        for _ in range(runs):
            page = context.new_page()
            page.goto(base + path)
            page.wait_for_selector("body[data-workspace=ready]", timeout=60_000)
            ready_ms = page.evaluate("window.relayWorkspaceReadyAt")
            peaks = page.evaluate(
                "performance.getEntriesByType('resource').filter(e => e.name.includes('/peaks'))"
                ".map(e => ({ms: e.duration, bytes: e.encodedBodySize}))[0]"
            )
            audio_bytes = page.evaluate(
                "performance.getEntriesByType('resource').filter(e => e.name.includes('/content'))"
                ".reduce((n, e) => n + (e.transferSize || 0), 0)"
            )
            heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
            results.append({"ready_ms": ready_ms, "peaks": peaks, "audio_bytes": audio_bytes, "heap": heap})
            print(f"ready in {ready_ms:.0f} ms (peaks {peaks['bytes'] / 1e6:.2f} MB in {peaks['ms']:.0f} ms)")
            page.close()
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=120)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-ui-bench-") as tmp:
        folder = Path(tmp)
        os.environ.update(
            {
                "RELAY_DATA_DIR": str(folder / "data"),
                "DJANGO_SETTINGS_MODULE": "relayweb.settings",
                "RELAY_EMBEDDED": "true",  # a throw-away instance: its secret key is generated
            }
        )
        os.environ.pop("DATABASE_URL", None)
        mp3 = build_programme(folder, args.minutes, "two-hours.mp3", codec=CODECS["mp3"])
        mp3_bytes = mp3.stat().st_size
        path, duration_ms = set_up_instance(mp3)
        collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
        subprocess.run(collect, cwd=ROOT, check=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "relayweb/gunicorn_conf.py", "-b", f"127.0.0.1:{port}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)
            results = measure(f"http://127.0.0.1:{port}", path, args.runs)
        finally:
            server.terminate()
            server.wait(timeout=10)
    report(args, mp3_bytes, duration_ms, results)


def report(args, mp3_bytes: int, duration_ms: int, results: list[dict]) -> None:
    ready = [r["ready_ms"] for r in results]
    peaks = results[-1]["peaks"]
    lines = [
        f"`python bench/ui_long_audio.py --minutes {args.minutes:g} --runs {args.runs}`: a "
        f"{duration_ms / 3_600_000:.2f}-hour 128 kbps MP3 with {duration_ms // 60_000} annotations, opened "
        "in the annotation workspace in headless Chromium (Playwright) against gunicorn (as `make run` "
        "serves) on "
        f"the same machine. Machine: {machine_summary()}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| navigation → interactive, median of {len(ready)} | {statistics.median(ready):.0f} ms |",
        f"| navigation → interactive, slowest | {max(ready):.0f} ms |",
        f"| peaks payload (JSON, {peaks['bytes'] / 1e6:.2f} MB) fetch | {peaks['ms']:.0f} ms |",
        f"| audio fetched before interactive (of {mp3_bytes / 1e6:.0f} MB) | "
        f"{max(r['audio_bytes'] for r in results) / 1e6:.2f} MB |",
        f"| JS heap after opening | {statistics.median(r['heap'] for r in results) / 1e6:.1f} MB |",
        "",
        "The browser never downloads or decodes the whole file: the waveform is drawn from the server's "
        "precomputed peaks and the audio element streams the original with Range requests.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(ROOT / "docs" / "benchmarks.md", "Annotation workspace on long audio", text)


if __name__ == "__main__":
    main()
