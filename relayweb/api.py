"""Service-level API endpoints: health."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from relayweb.auth import Public


def queue_stats() -> dict:
    """Tasks waiting in the broker, in all and per queue, with the age of the oldest: a queue that
    grows or ages while others drain has no worker serving it."""
    from django_q.models import OrmQ

    now = timezone.now()
    waiting = OrmQ.objects.filter(lock__lte=now)  # a locked message is one a worker is running

    def depth(rows) -> dict:
        oldest = rows.order_by("lock").values_list("lock", flat=True).first()
        age = round((now - oldest).total_seconds()) if oldest else None
        return {"queued_tasks": rows.count(), "oldest_queued_age_s": age}

    return {
        "broker": "orm",
        **depth(waiting),
        "queues": {name: depth(waiting.filter(key=name)) for name in settings.RELAY_QUEUES},
    }


class HealthView(GenericAPIView):
    authentication_classes: list = []
    permission_classes = [Public]
    throttle_classes: list = []

    @extend_schema(auth=[], responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            database = "ok"
        except Exception as exc:  # the point of a health check is to report, not to raise
            database = f"error: {exc.__class__.__name__}"
        queue = queue_stats() if database == "ok" else {"broker": "orm", "error": "database unavailable"}
        healthy = database == "ok"
        return Response(
            {"status": "ok" if healthy else "degraded", "database": database, "queue": queue},
            status=200 if healthy else 503,
        )
