"""Errors in the contract's shape.

`{"detail": "Dataset not found"}` for everything but validation, which is 422 with
`{"detail": [{"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"}]}`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

# DRF's error codes mapped to the pydantic-style types Relay's clients see.
ERROR_TYPES = {
    "required": "value_error.missing",
    "null": "type_error.none.not_allowed",
    "blank": "value_error.any_str.min_length",
    "max_length": "value_error.any_str.max_length",
    "min_length": "value_error.any_str.min_length",
    "min_value": "value_error.number.not_ge",
    "max_value": "value_error.number.not_le",
    "invalid_choice": "type_error.enum",
    "not_a_list": "type_error.list",
    "not_a_dict": "type_error.dict",
    "empty": "value_error.list.min_items",
    "max_string_length": "value_error.any_str.max_length",
    "invalid": "value_error",
    "unique": "value_error.duplicate",
    "does_not_exist": "value_error.not_found",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the object's current state"
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Upload is larger than the size limit"
    default_code = "too_large"


class Unprocessable(exceptions.APIException):
    """A 422 for a single problem found outside a serializer."""

    status_code = 422
    default_code = "invalid"

    def __init__(self, loc: list[Any], msg: str, type_: str = "value_error"):
        super().__init__(msg)
        self.items = [{"loc": loc, "msg": msg, "type": type_}]


def flatten(detail: Any, codes: Any, loc: list[Any]) -> list[dict[str, Any]]:
    """Walk DRF's nested error dicts/lists into flat loc/msg/type items."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            sub_loc = loc if key == "non_field_errors" else [*loc, key]
            items += flatten(value, codes.get(key) if isinstance(codes, dict) else codes, sub_loc)
        return items
    if isinstance(detail, list):
        if all(isinstance(d, str) for d in detail):
            code_list = codes if isinstance(codes, list) else [codes] * len(detail)
            return [
                {
                    "loc": loc,
                    "msg": str(msg),
                    "type": ERROR_TYPES.get(str(code), f"value_error.{code}"),
                }
                for msg, code in zip(detail, code_list, strict=False)
            ]
        items = []
        for index, value in enumerate(detail):
            if value:
                sub_codes = codes[index] if isinstance(codes, list) else codes
                items += flatten(value, sub_codes, [*loc, index])
        return items
    return [{"loc": loc, "msg": str(detail), "type": ERROR_TYPES.get(str(codes), "value_error")}]


def validation_response(exc: exceptions.ValidationError, loc_root: str = "body") -> Response:
    items = flatten(exc.detail, exc.get_codes(), [loc_root])
    return Response({"detail": items}, status=422)


def suspicious_error(exc: Exception | None) -> tuple[int, dict]:
    """Django's refusals of a request (a body too big, too many fields or files, a bad host): the
    client's error as (status, body) in the contract's shape, not Django's HTML 400 page."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return 413, {"detail": f"Request body is larger than the limit of {limit} bytes"}
    return 400, {"detail": f"Bad request: {exc}" if exc else "Bad request"}


def exception_handler(exc, context):
    if isinstance(exc, SuspiciousOperation):
        code, body = suspicious_error(exc)
        return Response(body, status=code)
    if isinstance(exc, Unprocessable):
        return Response({"detail": exc.items}, status=422)
    if isinstance(exc, exceptions.ValidationError):
        return validation_response(exc, getattr(exc, "loc_root", "body"))
    if isinstance(exc, Http404):
        return Response({"detail": str(exc) or "Not found"}, status=404)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response
