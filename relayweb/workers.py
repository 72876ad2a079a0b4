"""The workers: each `manage.py qcluster` beats in its own row while it runs, whatever the broker.

A row silent for RELAY_JOB_STALE_S is a worker that died (or lost its machine); its units of work
are handed on by the job lifecycle (relayweb/jobs.py), and its row is shown as silent until the
reaper removes it a day later.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from relayweb import jobs
from relayweb.models import Worker

FORGET_AFTER = timedelta(days=1)


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def beat(queue: str) -> None:
    now = timezone.now()
    seen = {"last_seen_at": now, "queue": queue, "host": socket.gethostname()[:200], "pid": os.getpid()}
    Worker.objects.update_or_create(
        name=this_worker(), defaults=seen, create_defaults={**seen, "started_at": now}
    )


def stopped() -> None:
    Worker.objects.filter(name=this_worker()).delete()


def is_alive(worker: Worker, now=None) -> bool:
    now = now or timezone.now()
    return (now - worker.last_seen_at).total_seconds() < settings.RELAY_JOB_STALE_S


def listing() -> list[dict]:
    now = timezone.now()
    return [
        {
            "name": w.name,
            "queue": w.queue,
            "host": w.host,
            "started_at": w.started_at,
            "last_heartbeat_s": round((now - w.last_seen_at).total_seconds(), 1),
            "alive": is_alive(w, now),
        }
        for w in Worker.objects.all()
    ]


def forget_silent() -> int:
    """Rows of workers silent for a day: gone for good (a sweeper of relayweb.jobs)."""
    deleted, _ = Worker.objects.filter(last_seen_at__lt=timezone.now() - FORGET_AFTER).delete()
    return deleted


jobs.register_sweeper("silent_workers", forget_silent)
