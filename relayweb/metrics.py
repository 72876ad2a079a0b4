"""`GET /metrics`: Prometheus' text format, with prometheus_client (the established exporter).

Everything is read at scrape time from what every process shares (the database, the broker), so
any web process answers for the whole deployment — no per-process counters to add up:

- relay_jobs{kind,status}: units of work by status (ingest, training, inference files,
  classifications) and inference jobs;
- relay_queue_tasks{queue,state}, relay_queue_oldest_age_seconds{queue}: the broker's queues;
- relay_workers{queue,state}, relay_worker_last_heartbeat_seconds{worker,queue,host}: each running
  cluster's heartbeat (relayweb/workers.py);
- relay_task_duration_seconds{queue}: a histogram of task run times over the tasks django-q2 keeps
  (its last 1000 successes per deployment, and every failure).

Set RELAY_METRICS_TOKEN to require `Authorization: Bearer <token>` (the counts say nothing about
any team's data, but a deployment may still not want them public).
"""

from __future__ import annotations

import hmac

from django.apps import apps
from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from relayweb import jobs, queues, workers

DURATION_BUCKETS = (1, 5, 30, 60, 300, 1800, 3600, 6 * 3600)


def status_counts(model, field: str) -> dict[str, int]:
    counts = {value: 0 for value, _ in model._meta.get_field(field).choices or ()}
    for row in model.objects.values(field).annotate(n=Count("pk")):
        counts[row[field]] = row["n"]
    return counts


class RelayCollector:
    def collect(self):
        yield self.job_counts()
        yield from self.queue_depths()
        yield from self.worker_beats()
        yield self.task_durations()

    def job_counts(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "relay_jobs", "Units of work by kind and status", labels=["kind", "status"]
        )
        sources = [(kind.name, kind.rows.model, kind.status_field) for kind in jobs.KINDS.values()]
        sources.append(("inference_job", apps.get_model("inference", "InferenceJob"), "status"))
        for name, model, field in sources:
            for status, count in status_counts(model, field).items():
                family.add_metric([name, status], count)
        return family

    def queue_depths(self):
        tasks = GaugeMetricFamily("relay_queue_tasks", "Tasks in each queue", labels=["queue", "state"])
        age = GaugeMetricFamily(
            "relay_queue_oldest_age_seconds", "How long the oldest queued task has waited", labels=["queue"]
        )
        for name in queues.QUEUES:
            depth = queues.depth(name)
            tasks.add_metric([name, "queued"], depth["queued_tasks"])
            tasks.add_metric([name, "running"], depth["running_tasks"])
            age.add_metric([name], depth["oldest_queued_age_s"] or 0)
        yield tasks
        yield age

    def worker_beats(self):
        counts = GaugeMetricFamily(
            "relay_workers", "Worker clusters by queue and state", labels=["queue", "state"]
        )
        last = GaugeMetricFamily(
            "relay_worker_last_heartbeat_seconds",
            "Seconds since each worker cluster's last heartbeat",
            labels=["worker", "queue", "host"],
        )
        tally = {(name, state): 0 for name in queues.QUEUES for state in ("alive", "silent")}
        for w in workers.listing():
            key = (w["queue"], "alive" if w["alive"] else "silent")
            tally[key] = tally.get(key, 0) + 1
            last.add_metric([w["name"], w["queue"], w["host"]], w["last_heartbeat_s"])
        for (name, state), count in tally.items():
            counts.add_metric([name, state], count)
        yield counts
        yield last

    def task_durations(self) -> HistogramMetricFamily:
        from django_q.models import Task

        family = HistogramMetricFamily(
            "relay_task_duration_seconds", "Run time of the tasks django-q2 keeps", labels=["queue"]
        )
        runs: dict[str, list[float]] = {name: [] for name in queues.QUEUES}
        for cluster, started, stopped in Task.objects.values_list("cluster", "started", "stopped"):
            runs.setdefault(cluster or "unknown", []).append((stopped - started).total_seconds())
        for name, seconds in runs.items():
            buckets = [(str(le), sum(1 for s in seconds if s <= le)) for le in DURATION_BUCKETS]
            buckets.append(("+Inf", len(seconds)))
            family.add_metric([name], buckets, sum_value=sum(seconds))
        return family


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(RelayCollector())


@require_GET
def metrics(request):
    token = settings.RELAY_METRICS_TOKEN
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return HttpResponse("a bearer token is required\n", status=401, content_type="text/plain")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
