"""One lifecycle for every kind of background work: claim, heartbeat, reap, requeue once, fail.

Ingest (an audio file), training (a job) and inference (a file of a job) are each a *unit of work*:
a row whose status says queued, running or finished. The row, never django-q2, is the truth:

- a task *claims* a queued row (queued → running, `attempts + 1`, `heartbeat_at = now`) in one
  conditional UPDATE, so a duplicate or late task finds nothing to do and every unit runs once;
- while it works, a thread in the worker *beats* (`heartbeat_at`) every `RELAY_HEARTBEAT_S`;
- results are saved only by the claim that is still current (`attempts` unchanged), so a worker
  presumed dead that wakes up cannot overwrite its successor;
- the *reaper* (`reap`, a django-q2 schedule every minute, and `manage.py relay_reap`) finds running
  rows silent for `RELAY_JOB_STALE_S`: a worker died (SIGKILL, OOM, a lost machine). It puts each back
  in the queue once and, if it dies again (`RELAY_JOB_MAX_ATTEMPTS`), fails it with a reason;
- queued units that waited `RELAY_JOB_LOST_S` while their cluster's queue is empty lost their
  message (the process that queued them died before the enqueue): the reaper sends it again;
- sweepers registered beside the kinds clean up what a dead process leaves: expired upload URLs,
  temporary files.

A task that merely fails (a bad file, a bug) or times out is *not* retried: its hook fails the unit
with the reason, because running it again would fail again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from relayweb import queues

log = logging.getLogger(__name__)

REAPER_SCHEDULE = "relay: reap stale jobs"


@dataclass(frozen=True)
class Kind:
    """How one kind of work is stored and put back in the queue."""

    name: str
    model: str  # "app_label.Model": resolved lazily so apps can register in ready()
    status_field: str
    queued: str
    running: tuple[str, ...]
    # requeue(ids): enqueue tasks for rows just put back to `queued`.
    requeue: Callable[[list], None]
    # fail(id, message): fail one unit with a reason (and whatever follows, e.g. settling its job).
    fail: Callable[[object, str], None]
    queue: str  # relayweb.queues: where its tasks go
    noun: str = "work"
    # Extra conditions a queued row must meet to be claimed (e.g. its bytes have arrived).
    claimable: dict = field(default_factory=dict)
    # The field that says since when a queued row has waited: units that waited long while their
    # queue is empty lost their message (resend_lost).
    waiting_since: str = ""

    @property
    def rows(self):
        return apps.get_model(self.model).objects


KINDS: dict[str, Kind] = {}
SWEEPERS: dict[str, Callable[[], int]] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def register_sweeper(name: str, sweep: Callable[[], int]) -> None:
    SWEEPERS[name] = sweep


def claimable(kind: Kind):
    return kind.rows.filter(**{kind.status_field: kind.queued}, **kind.claimable)


def claimed(kind: Kind) -> dict:
    """What a claim writes: running, one more attempt, and a first heartbeat."""
    return {kind.status_field: kind.running[0], "attempts": F("attempts") + 1, "heartbeat_at": timezone.now()}


def claim(kind: Kind, pk, **fields) -> int | None:
    """Move one queued row to running (setting `fields` too); returns the claim (attempt number), or
    None when the row is not queued: another task has it, it is finished, cancelled or gone."""
    updated = claimable(kind).filter(pk=pk).update(**claimed(kind), **fields)
    if not updated:
        return None
    return kind.rows.filter(pk=pk).values_list("attempts", flat=True).first()


def claim_many(kind: Kind, filters: dict, limit: int, **fields) -> dict:
    """Claim up to `limit` queued rows matching `filters` (setting `fields` too); returns {pk: claim}."""
    with transaction.atomic():
        # Rows another worker is claiming right now are skipped, not waited for: workers sharing a
        # queue take different files at once (PostgreSQL; SQLite runs one writer at a time anyway).
        queued = claimable(kind).select_for_update(skip_locked=True).filter(**filters)
        ids = list(queued.values_list("pk", flat=True)[:limit])
        kind.rows.filter(pk__in=ids).update(**claimed(kind), **fields)
    return dict(kind.rows.filter(pk__in=ids).values_list("pk", "attempts"))


def current(kind: Kind, pk, attempt: int):
    """The row if this claim is still the current one (running, same attempt), as a queryset."""
    return kind.rows.filter(pk=pk, attempts=attempt, **{f"{kind.status_field}__in": kind.running})


def beat(kind: Kind, pks: Iterable) -> int:
    return kind.rows.filter(pk__in=list(pks), **{f"{kind.status_field}__in": kind.running}).update(
        heartbeat_at=timezone.now()
    )


@contextmanager
def heartbeat(kind: Kind, pks: Iterable | Callable[[], Iterable]) -> Iterator[None]:
    """Beat for `pks` (or whatever the callable returns) on a thread until the block ends.

    A thread, not a callback from the work: decoding, a long epoch or a model load would otherwise
    look like a dead worker. When the process dies, the thread dies with it, which is the point.
    """
    stop = threading.Event()
    every = settings.RELAY_HEARTBEAT_S
    ids = pks if callable(pks) else (lambda fixed=list(pks): fixed)

    def run() -> None:
        try:
            while not stop.wait(every):
                try:
                    beat(kind, ids())
                except Exception:  # a busy database must not kill the heartbeat for good
                    log.warning("heartbeat for %s failed", kind.name, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run, name=f"heartbeat-{kind.name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)


def running_in(queue: str) -> int:
    """Units of work running now whose tasks came from `queue`."""
    return sum(
        kind.rows.filter(**{f"{kind.status_field}__in": kind.running}).count()
        for kind in KINDS.values()
        if kind.queue == queue
    )


def unused_upload_cutoff():
    """Rows created for an upload URL before this moment can no longer receive their bytes: the URL
    expired (with a minute's grace for an upload still arriving when it did)."""
    return timezone.now() - timedelta(seconds=settings.RELAY_UPLOAD_URL_EXPIRES + 60)


def died_message(kind: Kind, attempts: int) -> str:
    return (
        f"The worker processing this {kind.noun} stopped responding {attempts} times "
        f"(killed, out of memory or its machine lost; no heartbeat for {settings.RELAY_JOB_STALE_S} s). "
        "Check the workers' logs, then try again"
    )


def reap_kind(kind: Kind) -> tuple[int, int]:
    """Requeue (once) or fail the running rows of one kind whose worker fell silent."""
    limit = timezone.now() - timedelta(seconds=settings.RELAY_JOB_STALE_S)
    running = Q(**{f"{kind.status_field}__in": kind.running})
    silent = Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True)
    requeued, failed = [], 0
    for pk, attempts in kind.rows.filter(running & silent).values_list("pk", "attempts"):
        if attempts >= settings.RELAY_JOB_MAX_ATTEMPTS:
            kind.fail(pk, died_message(kind, attempts))
            failed += 1
            continue
        # Conditional on the same claim: a worker that beat or finished meanwhile keeps its row.
        moved = kind.rows.filter(running & silent, pk=pk, attempts=attempts).update(
            **{kind.status_field: kind.queued}, heartbeat_at=None
        )
        if moved:
            requeued.append(pk)
    if requeued:
        log.warning("requeued %d %s unit(s) whose worker stopped: %s", len(requeued), kind.name, requeued)
        kind.requeue(requeued)
    return len(requeued), failed


def resend_lost(kind: Kind) -> int:
    """Send again the tasks of queued units whose message never reached the broker.

    A process that dies between committing a queued row and handing its task to django-q2 (the
    enqueue runs on commit) leaves a unit nothing will ever pick up. Such a unit has waited longer
    than RELAY_JOB_LOST_S while its cluster's queue holds no message at all. A unit whose message
    is only late behind others is never touched (the queue is not empty), and a message sent twice
    is harmless: the second claim finds nothing to do.
    """
    if not kind.waiting_since:
        return 0
    cutoff = timezone.now() - timedelta(seconds=settings.RELAY_JOB_LOST_S)
    waiting = claimable(kind).filter(**{f"{kind.waiting_since}__lt": cutoff})
    lost = list(waiting.values_list("pk", flat=True)[:1000])
    if not lost or queues.depth(kind.queue)["queued_tasks"] > 0:
        return 0
    log.warning("sent again %d queued %s unit(s) whose task was lost: %s", len(lost), kind.name, lost)
    kind.requeue(lost)
    return len(lost)


def reap() -> dict[str, int]:
    """Every kind's stale work and every sweeper, once; what it did, by name (for logs and tests)."""
    done: dict[str, int] = {}
    for kind in KINDS.values():
        requeued, failed = reap_kind(kind)
        done[f"{kind.name}_requeued"], done[f"{kind.name}_failed"] = requeued, failed
        done[f"{kind.name}_resent"] = resend_lost(kind)
    for name, sweep in SWEEPERS.items():
        done[name] = sweep()
    return done


def ensure_schedule() -> None:
    """The reaper runs every minute on the default (ingest) cluster, whoever else is down."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=REAPER_SCHEDULE,
        defaults={
            "func": "relayweb.jobs.reap",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def reason(exc: BaseException) -> str:
    """An exception as one short line for a person (the trace goes to the log, not to the row)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300].rstrip(": ")


def task_reason(task) -> str:
    """Why a django-q2 task failed, in one line: the last line of the trace it stored."""
    lines = [line.strip() for line in str(task.result or "").splitlines() if line.strip()]
    return (lines[-1] if lines else "the worker stopped")[:300]
