"""The contract's list envelope: `{"items": [...], "total": N, "page": P, "page_size": S}`."""

from __future__ import annotations

import uuid

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from relayweb.errors import Unprocessable

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_OFFSET = 2**62


def query_int(request, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Unprocessable(["query", name], "value is not a valid integer", "type_error.integer") from None
    if value < low:
        raise Unprocessable(["query", name], f"ensure this value is >= {low}", "value_error.number.not_ge")
    if high is not None and value > high:
        raise Unprocessable(["query", name], f"ensure this value is <= {high}", "value_error.number.not_le")
    return value


def query_choice(request, name: str, choices: list[str]) -> str | None:
    """An optional enum query parameter (`?status=ready`); anything else is a 422."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    if raw not in choices:
        raise Unprocessable(["query", name], f"{name} must be one of {', '.join(choices)}", "type_error.enum")
    return raw


def query_uuid(request, name: str, params=None) -> str | None:
    """An optional id in the query (`?file_id=`); anything but a UUID is a 422 naming it."""
    raw = (request.query_params if params is None else params).get(name)
    if not raw:
        return None
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        raise Unprocessable(["query", name], "value is not a valid uuid", "type_error.uuid") from None


class PagePagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):
        self.page = query_int(request, "page", 1, 1)
        self.page_size = query_int(request, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        start = (self.page - 1) * self.page_size
        if start >= MAX_OFFSET:
            # An offset past 2^63 would overflow the database's integer (a 500), so it is never sent:
            # a page that far is past the end, and empty.
            self.total = queryset.count()
            return []
        rows = list(queryset[start : start + self.page_size])
        # A page that is neither empty nor full is the last one, and says how many there are: most
        # lists are one such page, and skip the count query (bench/load.py).
        self.total = start + len(rows) if 0 < len(rows) < self.page_size else queryset.count()
        return rows

    def get_paginated_response(self, data):
        return Response({"items": data, "total": self.total, "page": self.page, "page_size": self.page_size})

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page number, from 1; a page past the end is empty.",
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "description": f"Items per page, 1–{MAX_PAGE_SIZE}.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE_SIZE,
                    "default": DEFAULT_PAGE_SIZE,
                },
            },
        ]

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["items", "total", "page", "page_size"],
            "properties": {
                "items": schema,
                "total": {"type": "integer", "minimum": 0},
                "page": {"type": "integer", "minimum": 1},
                "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        }
