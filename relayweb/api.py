"""Service-level API endpoints: health."""

from __future__ import annotations

from django.db import connection
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from relayweb import queues
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
        queue = queues.stats() if database == "ok" else {"broker": "orm", "error": "database unavailable"}
        healthy = database == "ok"
        return Response(
            {"status": "ok" if healthy else "degraded", "database": database, "queue": queue},
            status=200 if healthy else 503,
        )
