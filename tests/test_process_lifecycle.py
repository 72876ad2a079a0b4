"""`make run`'s supervisor and a lone `qcluster` stop within 10 s; a crashed child is restarted."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django_q.tasks import async_task

from relayweb.processes import descendants, free_port, group_members, kill_all
from tests.conftest import ROOT, database_url_for_subprocess, start_cluster, storage_env, wait_for

pytestmark = [pytest.mark.worker]

STOP_WITHIN_S = 10.0


def mark_and_sleep(marker: str, seconds: float) -> None:
    """A long task: tells the test it has started, then keeps its worker busy."""
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)


def healthy(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200
    except requests.RequestException:  # not listening yet, or its workers still booting
        return False


def direct_children(pid: int) -> dict[str, int]:
    """The supervisor's children by role: web and one per queue (ingest, training, inference)."""
    roles = {}
    for child in descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            environment = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            parent = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if parent != pid:
            continue
        if b"gunicorn" in command:
            roles["web"] = child
        elif b"qcluster" in command:
            named = [e.split(b"=", 1)[1] for e in environment if e.startswith(b"Q_CLUSTER_NAME=")]
            roles[named[0].decode() if named else "ingest"] = child
    return roles


class Stack:
    def __init__(self, process: subprocess.Popen, base_url: str):
        self.process, self.base_url = process, base_url

    def children(self) -> dict[str, int]:
        return direct_children(self.process.pid)

    def everything(self) -> set[int]:
        return {self.process.pid, *descendants(self.process.pid)}

    def fully_up(self) -> bool:
        # gunicorn and its 2 workers; each cluster's main, sentinel, worker, monitor and pusher.
        return len(self.children()) == 4 and len(descendants(self.process.pid)) >= 18


@contextlib.contextmanager
def serving(settings, media_root, log_path: Path, **extra_env) -> Iterator[Stack]:
    """scripts/serve.py (gunicorn and the three clusters) on the test database and storage, until the
    block ends; then every process it started is killed."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "RELAY_DATA_DIR": str(settings.RELAY_DATA_DIR),
        "RELAY_MEDIA_ROOT": str(media_root),
        "RELAY_INGEST_WORKERS": "1",
        **storage_env(settings),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **extra_env,
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "scripts/serve.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Stack(process, f"http://127.0.0.1:{port}")
    seen = set()
    try:
        wait_for(lambda: healthy(running.base_url) and running.fully_up(), timeout=90)
        seen = running.everything()
        yield running
    finally:
        seen |= running.everything()
        kill_all(sorted(seen))
        process.wait(timeout=10)


@pytest.fixture
def stack(transactional_db, settings, media_root, tmp_path):
    with serving(settings, media_root, tmp_path / "serve.log") as running:
        yield running


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("how", ["SIGTERM to the supervisor", "Ctrl-C in its terminal"])
def test_sigterm_or_ctrl_c_stops_the_web_server_every_cluster_and_their_workers_within_10_s(stack, how):
    processes = stack.everything()
    groups = list(stack.children().values())
    started = time.monotonic()
    if how.startswith("SIGTERM"):
        stack.process.send_signal(signal.SIGTERM)
    else:
        os.killpg(stack.process.pid, signal.SIGINT)  # a terminal sends Ctrl-C to its foreground group
    assert stack.process.wait(timeout=STOP_WITHIN_S) == 0
    assert time.monotonic() - started < STOP_WITHIN_S
    assert [pid for pid in processes if is_alive(pid)] == []
    assert len(groups) == 4 and [group_members(pgid) for pgid in groups] == [[], [], [], []]


def test_a_killed_web_server_or_cluster_is_restarted_and_its_workers_do_not_linger(stack):
    before = stack.children()
    for role in ("web", "ingest"):
        os.kill(before[role], signal.SIGKILL)
    replaced = ("web", "ingest")
    after = wait_for(
        lambda: (c := stack.children()) and all(c.get(r, before[r]) != before[r] for r in replaced) and c,
        timeout=30,
    )
    assert (after["training"], after["inference"]) == (before["training"], before["inference"])
    wait_for(lambda: healthy(stack.base_url), timeout=60)
    assert group_members(before["web"]) == [] and group_members(before["ingest"]) == []


@pytest.mark.parametrize(
    ("cluster", "how"),
    [(None, "SIGTERM to it"), ("training", "SIGTERM to its group"), ("inference", "SIGINT")],
)
def test_a_lone_qcluster_stops_within_10_s_even_while_a_long_task_runs(
    transactional_db, settings, media_root, tmp_path, cluster, how
):
    marker = tmp_path / "task-started"
    process = start_cluster(settings, media_root, cluster=cluster)
    try:
        options = {"cluster": cluster} if cluster else {}
        async_task("tests.test_process_lifecycle.mark_and_sleep", str(marker), 300, **options)
        wait_for(marker.exists, timeout=60)
        members = {process.pid, *descendants(process.pid)}
        assert int(marker.read_text()) in members  # the task is running in one of its workers
        started = time.monotonic()
        if how == "SIGTERM to it":
            process.send_signal(signal.SIGTERM)
        elif how == "SIGINT":
            process.send_signal(signal.SIGINT)
        else:
            os.killpg(process.pid, signal.SIGTERM)  # what systemd's default KillMode does
        process.wait(timeout=STOP_WITHIN_S)
        assert time.monotonic() - started < STOP_WITHIN_S
        assert [pid for pid in members if is_alive(pid)] == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_qcluster_whose_sentinel_dies_exits_with_an_error_so_it_is_restarted(
    transactional_db, settings, media_root
):
    process = start_cluster(settings, media_root)
    try:
        sentinel = wait_for(lambda: [pid for pid in descendants(process.pid) if len(descendants(pid)) >= 3])
        os.kill(sentinel[0], signal.SIGKILL)
        assert process.wait(timeout=STOP_WITHIN_S) != 0
        assert group_members(process.pid) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def supervisor_module():
    spec = importlib.util.spec_from_file_location("relay_serve", ROOT / "scripts" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_child_that_keeps_crashing_waits_1_2_4_seconds_and_back_to_1_after_running_a_minute():
    serve = supervisor_module()
    child = serve.Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
    delays = []
    child.start()
    for ran_for in (0.0, 0.0, 0.0, serve.STABLE_AFTER_S, 0.0):
        child.process.wait(timeout=30)
        now = child.started_at + ran_for
        child.check(now)  # notices the exit and schedules the restart
        delays.append(child.restart_at - now)
        restarted_at = child.restart_at
        child.check(restarted_at)  # the back-off has passed: started again
        assert child.process is not None and child.restart_at is None
    child.process.wait(timeout=30)
    assert delays == [1.0, 2.0, 4.0, 1.0, 2.0]
