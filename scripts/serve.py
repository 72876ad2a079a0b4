"""`make run`: gunicorn and a django-q2 cluster per queue, under a small supervisor.

    python scripts/serve.py                                      (HOST and PORT: where gunicorn listens)
    python scripts/serve.py --no-web --queues training,inference (a worker machine: any set of queues)

Each queue is its own cluster: `ingest` decodes and measures uploads; `training` and `inference`
(one worker each, a fresh process per task) train models and run them, side by side, so inference
never waits behind a training run. A child that dies is started again after 1, 2, 4 … 30 seconds
(back to 1 once it has run for a minute). SIGTERM, SIGINT (Ctrl-C) or SIGHUP stops everything within
10 seconds: each child gets SIGTERM, then its whole process group (its workers too) SIGKILL.

Production runs the same processes under systemd instead (docs/deployment.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relayweb.queues import QUEUES  # noqa: E402 - Django need not be configured for the names

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0
STABLE_AFTER_S = 60.0
# Children stop themselves sooner (gunicorn 5 s, qcluster RELAY_STOP_GRACE_S); this is the backstop.
KILL_AFTER_S = 8.5


def log(message: str) -> None:
    print(f"serve: {message}", file=sys.stderr, flush=True)


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = field(default=None)

    def start(self) -> None:
        # Its own session and process group: the child's workers can be killed with it, and a
        # Ctrl-C in the terminal reaches only this supervisor, which stops the children in order.
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check(self, now: float) -> None:
        """Schedule a restart if the child has died; start it when its back-off has passed."""
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            kill_group(self.process.pid)  # its orphaned workers must not outlive it
            ran_for = now - self.started_at
            if ran_for >= STABLE_AFTER_S:
                self.quick_failures = 0
            delay = min(MAX_DELAY_S, FIRST_DELAY_S * 2**self.quick_failures)
            self.quick_failures += 1
            log(f"{self.name} exited with code {code} after {ran_for:.0f} s; restarting in {delay:.0f} s")
            self.process, self.restart_at = None, now + delay
        if self.restart_at is not None and now >= self.restart_at:
            self.start()

    def terminate(self) -> None:
        if self.running:
            self.process.send_signal(signal.SIGTERM)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def children(python: str, env: dict[str, str], web: bool = True, queues=QUEUES) -> list[Child]:
    group = [Child("web", [python, "-m", "gunicorn", "-c", "relayweb/gunicorn_conf.py"], env)] if web else []
    for queue in queues:
        group.append(
            Child(f"{queue} cluster", [python, "manage.py", "qcluster"], {**env, "Q_CLUSTER_NAME": queue})
        )
    return group


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-web", dest="web", action="store_false", help="workers only")
    parser.add_argument(
        "--queues", default=",".join(QUEUES), help=f"comma-separated, any of {', '.join(QUEUES)}"
    )
    args = parser.parse_args(argv)
    args.queues = [q for q in args.queues.split(",") if q]
    unknown = [q for q in args.queues if q not in QUEUES]
    if unknown or not (args.queues or args.web):
        parser.error(f"unknown queue(s) {', '.join(unknown)}" if unknown else "nothing to run")
    return args


def check_settings() -> None:
    """Stop at once, with the reason, on a bad environment, rather than restart children forever."""
    from relayweb.env import settings_or_exit

    settings_or_exit()


def stop_all(group: list[Child]) -> None:
    for child in group:
        child.terminate()
    deadline = time.monotonic() + KILL_AFTER_S
    while any(child.running for child in group) and time.monotonic() < deadline:
        time.sleep(0.1)
    for child in group:
        if child.process is not None:
            kill_group(child.process.pid)
            child.process.wait()


def main() -> int:
    args = parse_args()
    # The embedded single-machine stack: a missing SECRET_KEY is generated (docs/configuration.md).
    os.environ.setdefault("RELAY_EMBEDDED", "true")
    check_settings()
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: stopping.append(signum))
    group = children(sys.executable, dict(os.environ), args.web, args.queues)
    for child in group:
        child.start()
    serving = f"serving http://{HOST}:{PORT}/ with" if args.web else "working"
    log(f"Relay is {serving} queues {', '.join(args.queues) or 'none'}; Ctrl-C stops them all.")
    while not stopping:
        now = time.monotonic()
        for child in group:
            child.check(now)
        time.sleep(0.2)
    log(f"{signal.Signals(stopping[0]).name}: stopping {', '.join(child.name for child in group)}")
    stop_all(group)
    return 0


if __name__ == "__main__":
    sys.exit(main())
