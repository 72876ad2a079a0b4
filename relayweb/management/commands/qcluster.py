"""`manage.py qcluster`: django-q2's cluster, but one that stops within seconds when told to.

django-q2's own command hangs on SIGTERM in two ways:
- its sentinel waits for every worker to finish the task in hand, however long (the `training` queue's
  tasks run for hours);
- when SIGTERM reaches the whole process group (systemd's default, `kill -- -PGID`), the sentinel
  dies at once while waiting on the cluster's stop event, and the main process then blocks forever
  in `stop_event.set()` (a multiprocessing Condition waits for a sleeper that is gone).

Here SIGTERM and SIGINT only set a flag. The main process then asks the sentinel to stop from a
thread it does not wait on, gives running tasks RELAY_STOP_GRACE_S seconds, and kills whatever of
the cluster is left. A killed task is picked up again by the job lifecycle, never lost silently.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import CommandError
from django.db import close_old_connections
from django_q.cluster import Cluster
from django_q.conf import Conf, logger
from django_q.management.commands.qcluster import Command as DjangoQCommand

from relayweb import workers
from relayweb.processes import become_subreaper, descendants, kill_all, reap, zombie_children


class Command(DjangoQCommand):
    help = "Starts a django-q2 cluster that stops within seconds of SIGTERM or Ctrl-C."

    def handle(self, *args, **options):
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        stop_requested = threading.Event()
        become_subreaper()  # if the sentinel dies, its workers become ours to kill
        cluster = Cluster()  # installs django-q2's signal handlers, replaced next
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop_requested.set())
        try:
            cluster.start()
        except RuntimeError:
            logger.exception("The cluster's sentinel died while starting")
        if not options.get("run_once"):
            watch(cluster, stop_requested)
        shut_down(cluster, settings.RELAY_STOP_GRACE_S)
        if not (stop_requested.is_set() or options.get("run_once")):
            # Nobody asked it to stop: fail, so systemd's Restart=on-failure (or make run) restarts it.
            raise CommandError(f"the cluster's sentinel died (exit code {cluster.sentinel.exitcode})")


def watch(cluster: Cluster, stop_requested: threading.Event) -> None:
    """Until told to stop or the sentinel dies: beats in the workers' table (relayweb/workers.py)
    every RELAY_HEARTBEAT_S, and reaps adopted orphans (a worker killed on timeout can leave, say, an
    ffmpeg behind) now and then, never the sentinel (multiprocessing's to reap). The database is
    touched only here, after the sentinel was forked: no connection is shared with a child."""
    checks, last_beat = 0, 0.0
    try:
        while not stop_requested.wait(0.5) and cluster.sentinel.is_alive():
            checks += 1
            if checks % 60 == 0:
                reap([pid for pid in zombie_children(os.getpid()) if pid != cluster.sentinel.pid])
            if time.monotonic() - last_beat >= settings.RELAY_HEARTBEAT_S:
                last_beat = time.monotonic()
                beat(Conf.CLUSTER_NAME)
    finally:
        with contextlib.suppress(Exception):
            workers.stopped()


def beat(queue: str) -> None:
    try:
        workers.beat(queue)
    except Exception:  # a database restart must not stop the cluster; the next beat tries again
        logger.warning("worker heartbeat failed", exc_info=True)
        close_old_connections()


def shut_down(cluster: Cluster, grace_s: float) -> None:
    deadline = time.monotonic() + grace_s
    leftovers = set(descendants(os.getpid()))
    if cluster.sentinel.is_alive():
        # set() blocks forever if a process waiting on the event was killed: never wait on it.
        threading.Thread(target=cluster.stop_event.set, daemon=True).start()
        while cluster.sentinel.is_alive() and time.monotonic() < deadline:
            leftovers.update(descendants(os.getpid()))
            time.sleep(0.1)
    leftovers.update(descendants(os.getpid()))
    if cluster.sentinel.is_alive():
        logger.warning("Tasks still running after %s s: killing the cluster's workers", grace_s)
    kill_all(sorted(leftovers))
    cluster.sentinel.join(timeout=2)
    # multiprocessing reaps the sentinel; orphaned workers are ours (become_subreaper).
    reap(sorted(leftovers - {cluster.sentinel.pid}))
    logger.info("Q Cluster %s has stopped.", cluster.name)
