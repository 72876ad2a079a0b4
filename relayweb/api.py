"""Service-level API endpoints: health."""

from __future__ import annotations

from django.db import connection
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from relayweb import queues, storage, workers
from relayweb.auth import Public


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
        queue: dict = {"broker": queues.broker_name(), "error": "database unavailable"}
        running: list = []
        if database == "ok":
            stats, error = attempt(queues.stats)
            queue = stats if error is None else {"broker": queues.broker_name(), "error": error}
            running = attempt(workers.listing)[0] or []
        store_error = attempt(storage.check)[1]
        healthy = database == "ok" and "error" not in queue and store_error is None
        return Response(
            {
                "status": "ok" if healthy else "degraded",
                "database": database,
                "storage": {"backend": storage.describe(), "status": store_error or "ok"},
                "queue": queue,
                "workers": running,
            },
            status=200 if healthy else 503,
        )


def attempt(probe):
    """(answer, None), or (None, the reason) when the probe raised: a broker or bucket that is down
    is reported, never a 500."""
    try:
        return probe(), None
    except Exception as exc:
        return None, f"error: {exc.__class__.__name__}: {exc}"[:200]
