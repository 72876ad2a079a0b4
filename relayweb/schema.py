"""OpenAPI generation details: API key auth, readable operation ids, one path per route."""

from __future__ import annotations

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


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
