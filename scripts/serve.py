"""`make run`: the dashboard and both django-q2 clusters in the foreground; Ctrl-C stops all.

The default cluster ingests audio; the `gpu` cluster (one worker, a fresh process per task)
trains models. On a machine with a GPU the training worker uses it.

Fine for a workstation or a small team. Production runs the same two processes under a
process manager, with gunicorn in place of the development server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")


def main() -> int:
    python = sys.executable
    worker = subprocess.Popen([python, "manage.py", "qcluster"])
    gpu_worker = subprocess.Popen(
        [python, "manage.py", "qcluster"], env={**os.environ, "Q_CLUSTER_NAME": "gpu"}
    )
    web = subprocess.Popen([python, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"])
    print(f"Relay is serving http://{HOST}:{PORT}/ with its workers; Ctrl-C stops them all.", flush=True)
    processes = [web, worker, gpu_worker]
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 15
        for p in processes:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
    failures = [p.returncode for p in processes if p.returncode and p.returncode > 0]
    return failures[0] if failures else 0


if __name__ == "__main__":
    sys.exit(main())
