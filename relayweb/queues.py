"""Relay's queues and what the broker holds in each: for the health check, the reaper and the pages
of jobs that wait. Imported by the settings and by scripts/serve.py too: nothing here needs Django
configured until it is called."""

from __future__ import annotations

from django.utils import timezone

# Each is a django-q2 cluster of its own (docs/deployment.md), so inference never waits behind a
# training run and each has its own timeout. A worker serves any set of them
# (`scripts/serve.py --no-web --queues training,inference`).
INGEST, TRAINING, INFERENCE = QUEUES = ("ingest", "training", "inference")

# A queue whose oldest task waited this long while no task of it ran has no worker serving it.
UNSERVED_AFTER_S = 60


def depth(queue: str) -> dict:
    """Tasks waiting and running in one queue, and how long its oldest has waited."""
    from django.conf import settings

    return redis_depth(queue) if settings.RELAY_BROKER_URL else orm_depth(queue)


def orm_depth(queue: str) -> dict:
    """The database broker: a message a worker holds is locked until its retry time."""
    from django_q.models import OrmQ

    now = timezone.now()
    rows = OrmQ.objects.filter(key=queue)
    waiting = rows.filter(lock__lte=now)
    oldest = waiting.order_by("lock").values_list("lock", flat=True).first()
    return {
        "queued_tasks": waiting.count(),
        "running_tasks": rows.filter(lock__gt=now).count(),
        "oldest_queued_age_s": round((now - oldest).total_seconds()) if oldest else None,
    }


def redis_depth(queue: str) -> dict:
    """The Redis broker: a list per queue, oldest first; a message leaves it when a worker takes it,
    so what runs is counted from our rows (relayweb.jobs), not from the broker."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    from relayweb import jobs

    broker = get_broker(queue)
    first = broker.connection.lindex(broker.list_key, 0)
    started = None
    if first is not None:
        try:
            started = SignedPackage.loads(first).get("started")
        except Exception:  # a message signed with another key: unreadable, still counted
            started = None
    return {
        "queued_tasks": broker.queue_size(),
        "running_tasks": jobs.running_in(queue),
        "oldest_queued_age_s": round((timezone.now() - started).total_seconds()) if started else None,
    }


def broker_name() -> str:
    from django.conf import settings

    return "redis" if settings.RELAY_BROKER_URL else "orm"


def stats() -> dict:
    """Every queue's depth, and the totals over them (each queue asked once)."""
    per_queue = {name: depth(name) for name in QUEUES}
    ages = [q["oldest_queued_age_s"] for q in per_queue.values() if q["oldest_queued_age_s"] is not None]
    return {
        "broker": broker_name(),
        "queued_tasks": sum(q["queued_tasks"] for q in per_queue.values()),
        "running_tasks": sum(q["running_tasks"] for q in per_queue.values()),
        "oldest_queued_age_s": max(ages) if ages else None,
        "queues": per_queue,
    }


def waiting_note(queue: str) -> str:
    """Where a job waits and why, in a sentence for its page."""
    q = depth(queue)
    if q["running_tasks"]:
        return (
            f"Waiting in the {queue} queue: its worker is busy with another task "
            f"({q['queued_tasks']} waiting)."
        )
    if (q["oldest_queued_age_s"] or 0) >= UNSERVED_AFTER_S:
        return (
            f"Waiting in the {queue} queue for {q['oldest_queued_age_s']} s and no worker has taken it: "
            f"is a worker for it running (`make run`, or `Q_CLUSTER_NAME={queue} manage.py qcluster`)?"
        )
    return f"Queued in the {queue} queue; a worker will pick it up."
