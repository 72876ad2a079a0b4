"""OpenAPI generation details: API key auth, readable operation ids, one path per route, and the
error responses every operation can give."""

from __future__ import annotations

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers


class RelayAutoSchema(AutoSchema):
    def get_operation_id(self) -> str:
        # DatasetDetailView + PATCH → dataset_detail_patch (unique, stable, readable).
        name = re.sub(r"View$", "", self.view.__class__.__name__)
        return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() + "_" + self.method.lower()


def drop_slash_variants(endpoints, **kwargs):
    """Routes also answer with a trailing slash; the schema documents the canonical form."""
    return [e for e in endpoints if not e[0].endswith("/")]


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "relayweb.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "relayweb.auth.TeamSessionAuthentication"
    name = "SessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


# --- error responses ------------------------------------------------------------------------------
# Every operation documents the errors it can answer, in the contract's shapes, so a generated
# client parses them. Which codes apply is decided from the operation itself (see error_codes);
# a view adds the rest (a 409 on a GET, a 416 on a ranged download) with extend_schema.

ERROR = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string"}},
}
VALIDATION_ERROR = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        }
    },
}
ERROR_DESCRIPTIONS = {
    400: "Malformed request body (not JSON, nested too deeply, too many fields)",
    401: "Missing or invalid API key",
    403: "The key's role may not do this",
    404: "Not found (or another team's)",
    409: "Conflicts with the object's current state",
    413: "Request body or upload over the size limit",
    415: "Unsupported request content type",
    422: "Validation error",
    429: "Rate limited",
}


class ErrorSerializer(serializers.Serializer):
    """`{"detail": "…"}`: for extend_schema in views that document an error the hook cannot infer."""

    detail = serializers.CharField()


def error_codes(path: str, method: str, operation: dict) -> set[int]:
    codes = set()
    if operation.get("security"):
        codes |= {401, 403, 429}
    if "{" in path or method in ("post", "patch"):  # a path id, or an id in the body, not found
        codes.add(404)
    if method in ("post", "patch", "delete"):
        codes.add(409)
    if "requestBody" in operation:
        codes |= {400, 413, 415, 422}
    if any(p.get("in") in ("query", "header") for p in operation.get("parameters", [])):
        codes.add(422)
    return codes


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: the error responses of every operation, and their two shapes."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas["ValidationError"] = VALIDATION_ERROR
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            responses = operation.setdefault("responses", {})
            for code in sorted(error_codes(path, method, operation)):
                name = "ValidationError" if code == 422 else "Error"
                responses.setdefault(
                    str(code),
                    {
                        "description": ERROR_DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
                    },
                )
    return result


def paginated(serializer_class, **kwargs):
    """extend_schema for a list endpoint: the envelope `{items, total, page, page_size}` and the
    `page` / `page_size` query parameters (relayweb.pagination)."""
    return extend_schema(responses=serializer_class(many=True), **kwargs)


def binary(media_types: tuple[str, ...], codes: tuple[int, ...] = (200,), json=OpenApiTypes.ANY) -> dict:
    """Responses of a download: bodies of these media types, binary but for JSON (`json`'s shape)."""
    return {
        (code, media_type): json if media_type == "application/json" else OpenApiTypes.BINARY
        for code in codes
        for media_type in media_types
    }


# A ranged download of uploaded audio: its own (audio or video) type, else octet-stream, as served by
# relayweb.ranges; 416 for a Range past the end.
AUDIO_DOWNLOAD = {
    **binary(("audio/*", "video/*", "application/octet-stream"), codes=(200, 206)),
    416: OpenApiResponse(description="Range not satisfiable"),
}
