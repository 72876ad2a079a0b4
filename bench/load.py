"""Latency and throughput of `make run`'s stack under an open-loop load.

    python bench/load.py [--rates 25,50,100,200] [--job-rates 25,50] [--seconds 10] [--no-write]

Starts scripts/serve.py (gunicorn and both django-q2 clusters, as `make run` does) on a fresh
RELAY_DATA_DIR with the default SQLite database, seeded through the ORM with one team: 10 datasets,
200 ready audio rows in one of them, and a completed 500-file inference job (4 stored detections per
file). Then, for each endpoint and offered rate, requests are sent on a fixed schedule whatever the
answers (open loop, a thread pool) for `--seconds`; latency counts from the moment a request was due,
so a saturated server cannot hide its queue. Results go into docs/benchmarks.md.

The load generator runs on the same machine and competes with the server for its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import machine_summary, write_section  # noqa: E402
from relayweb.processes import descendants, free_port  # noqa: E402

AUDIO_ROWS, JOB_FILES, DETECTIONS_PER_FILE, DATASETS = 200, 500, 4, 10
CONNECTIONS = 64  # keep-alive connections the load generator holds open, like a busy proxy's
TYPES = ["glitch", "long_pause", "clipping", "dropout"]
DETECTIONS = [
    {"artifact_type": TYPES[n], "start_ms": 1_000 * n, "end_ms": 1_000 * n + 120, "confidence": 0.8}
    for n in range(DETECTIONS_PER_FILE)
]


def seed() -> tuple[str, dict[str, str]]:
    """Rows straight through the ORM (no audio decoded); returns the API key and the paths to load."""
    import django
    from django.core.management import call_command

    django.setup()
    from django.utils import timezone

    from datasets import services
    from datasets.models import AudioFile
    from inference.models import FileStatus, InferenceFile, InferenceJob, JobStatus
    from relayweb.models import ApiKey, Role, Team

    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="Bench")
    _, key = ApiKey.issue(team, Role.ADMIN, name="bench")
    datasets = [
        services.create_dataset(team, f"Set {n}", "", [{"name": t} for t in TYPES]) for n in range(DATASETS)
    ]
    now = timezone.now()
    AudioFile.objects.bulk_create(
        AudioFile(
            dataset=datasets[0],
            original_filename=f"take-{n:03}.wav",
            content_type="audio/wav",
            size_bytes=1_920_044,
            sha256=f"{n:064x}",
            duration_ms=60_000,
            sample_rate=16_000,
            channels=1,
            detected_format="wav",
            processing_status="ready",
            uploaded_at=now,
            processed_at=now,
        )
        for n in range(AUDIO_ROWS)
    )
    job = InferenceJob.objects.create(
        team=team,
        model_id=uuid.uuid4(),
        model_name="bench model",
        artifact_types=TYPES,
        config={"threshold": 0.5, "merge_window_ms": 200, "min_duration_ms": 50},
        status=JobStatus.COMPLETED,
        started_at=now,
        completed_at=now,
    )
    InferenceFile.objects.bulk_create(
        InferenceFile(
            job=job,
            original_filename=f"call-{n:03}.wav",
            content_type="audio/wav",
            size_bytes=1_920_044,
            s3_key=f"inference/{job.id}/call-{n:03}.wav",
            status=FileStatus.COMPLETED,
            duration_ms=60_000,
            frames=6_000,
            detections=DETECTIONS,
            detection_count=DETECTIONS_PER_FILE,
            uploaded_at=now,
            processed_at=now,
        )
        for n in range(JOB_FILES)
    )
    paths = {
        "GET /api/v1/datasets": "/api/v1/datasets",
        f"GET /api/v1/datasets/{{id}}/audio ({AUDIO_ROWS} rows, first page)": (
            f"/api/v1/datasets/{datasets[0].id}/audio"
        ),
        f"GET /api/v1/inference-jobs/{{id}} ({JOB_FILES} files)": f"/api/v1/inference-jobs/{job.id}",
    }
    return key, paths


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by `pid`'s descendants: the server's share of the machine."""
    total = 0
    for child in descendants(pid):
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Level:
    endpoint: str
    offered: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    def row(self) -> str:
        achieved = len(self.latencies) / self.elapsed if self.elapsed else 0.0
        p50, p95, p99 = (self.percentile(q) for q in (0.5, 0.95, 0.99))
        requests_sent = max(1, len(self.latencies) + self.errors)
        server_ms, client_ms = (1000 * cpu / requests_sent for cpu in (self.server_cpu_s, self.client_cpu_s))
        return (
            f"| {self.endpoint} | {self.offered} | {achieved:.1f} | {p50:.0f} | {p95:.0f} | {p99:.0f} | "
            f"{self.errors} | {server_ms:.1f} | {client_ms:.1f} |"
        )


def drive(url: str, key: str, endpoint: str, rate: int, seconds: float) -> Level:
    """Send rate × seconds GETs on schedule over a pool of keep-alive connections."""
    return asyncio.run(drive_async(urlsplit(url), key, Level(endpoint, rate), seconds))


async def drive_async(url, key: str, level: Level, seconds: float) -> Level:
    """One event loop and raw HTTP/1.1: a thread per request (the first version, with requests)
    cost ~1.2 ms of the machine's CPU per request and queued the answers behind its own GIL,
    which the latencies then counted as the server's. A request that finds every connection busy
    waits for one, and that wait counts (it is due at its time, whatever the pool)."""
    loop = asyncio.get_running_loop()
    head = f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nX-API-Key: {key}\r\n\r\n".encode()
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(None)  # opened on first use

    async def one(due: float) -> None:
        connection = await pool.get()
        ok = False
        for _attempt in range(2):  # the server closes idle keep-alive connections: reopen once
            try:
                connection = connection or await asyncio.open_connection(url.hostname, url.port)
                ok = await exchange(*connection, head)
                break
            except (OSError, asyncio.IncompleteReadError, ValueError):
                connection = None
        finished = loop.time()
        pool.put_nowait(connection)
        if ok:
            level.latencies.append(finished - due)
        else:
            level.errors += 1
        level.elapsed = max(level.elapsed, finished - start)

    start = loop.time() + 0.1
    tasks = []
    for n in range(int(level.offered * seconds)):
        due = start + n / level.offered
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    return level


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes) -> bool:
    """One request and its whole response on an open connection; True for a 200."""
    writer.write(head)
    status = await reader.readline()
    if not status:
        raise ConnectionResetError("closed by the server")
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(length)
    return status.split()[1] == b"200"


def wait_healthy(base_url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server did not become healthy")


def run(args) -> list[Level]:
    with tempfile.TemporaryDirectory(prefix="relay-load-") as folder:
        os.environ.pop("DATABASE_URL", None)
        os.environ.update(
            {
                "RELAY_DATA_DIR": folder,
                "DJANGO_SETTINGS_MODULE": "relayweb.settings",
                "RELAY_EMBEDDED": "true",
                # Measures the server, not the per-team rate limit (6000/min by default).
                "RELAY_API_RATE": "1000000/min",
                "HOST": "127.0.0.1",
                "PORT": str(args.port or free_port()),
                "LOG_LEVEL": "WARNING",
            }
        )
        key, paths = seed()
        base_url = f"http://{os.environ['HOST']}:{os.environ['PORT']}"
        server = subprocess.Popen([sys.executable, "scripts/serve.py"], cwd=ROOT, start_new_session=True)
        try:
            wait_healthy(base_url)
            time.sleep(5)  # let the clusters finish importing before measuring
            return measure(base_url, key, paths, args, server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=15)


def measure(base_url: str, key: str, paths: dict[str, str], args, server_pid: int) -> list[Level]:
    levels = []
    for endpoint, path in paths.items():
        drive(base_url + path, key, endpoint, 10, 1)  # warm every worker and connection
        rates = args.job_rates if "inference-jobs" in path else args.rates
        for rate in rates:
            server_before, client_before = cpu_seconds(server_pid), time.process_time()
            level = drive(base_url + path, key, endpoint, rate, args.seconds)
            level.server_cpu_s = cpu_seconds(server_pid) - server_before
            level.client_cpu_s = time.process_time() - client_before
            print(level.row(), flush=True)
            levels.append(level)
    return levels


def report(args, levels: list[Level]) -> str:
    rates = ",".join(map(str, args.rates))
    job_rates = ",".join(map(str, args.job_rates))
    lines = [
        f"`python bench/load.py --rates {rates} --job-rates {job_rates} --seconds {args.seconds:g}`: "
        "`make run`'s stack (scripts/serve.py: gunicorn with "
        f"{os.environ.get('RELAY_WEB_WORKERS', '2')} gthread workers × "
        f"{os.environ.get('RELAY_WEB_THREADS', '8')} threads, both django-q2 clusters idle) on a fresh "
        f"SQLite instance: {DATASETS} datasets, {AUDIO_ROWS} audio rows in one, a {JOB_FILES}-file "
        f"inference job with {DETECTIONS_PER_FILE} detections per file. Open loop: each request is "
        "sent when it is due whatever the earlier ones did; latency counts from that moment (ms). The "
        f"load generator (one asyncio event loop, raw HTTP/1.1 on {CONNECTIONS} keep-alive connections) "
        "runs on the same machine and takes part of its "
        f"CPU. Machine: {machine_summary()}; load average {args.load_before} before the run and "
        f"{os.getloadavg()[0]:.1f} after it (other work on the machine competes too). The CPU columns "
        "are the server's processes' and the load generator's CPU time divided by the requests sent.",
        "",
        "| endpoint | offered r/s | achieved r/s | p50 ms | p95 ms | p99 ms | errors | server CPU ms/req "
        "| load generator CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|",
        *(level.row() for level in levels),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",")], default=[25, 50, 100, 200])
    parser.add_argument("--job-rates", type=lambda s: [int(x) for x in s.split(",")], default=[25, 50])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.load_before = f"{os.getloadavg()[0]:.1f}"
    levels = run(args)
    body = report(args, levels)
    print(body)
    if not args.no_write:
        write_section(ROOT / "docs" / "benchmarks.md", "API under load (make run)", body)
    failed = sum(level.errors for level in levels)
    print(f"median p50 {statistics.median(lv.percentile(0.5) for lv in levels):.0f} ms; errors {failed}")


if __name__ == "__main__":
    main()
