"""API route helpers shared by every app: canonical paths without a trailing slash (Relay's style;
one is tolerated), and ids matched as real UUIDs."""

from __future__ import annotations

from django.urls import re_path

# A UUID exactly (8-4-4-4-12 hex digits). A looser pattern let any 36 characters reach the views,
# where the database refused them with a 500; now such a path simply does not resolve: a JSON 404.
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def route(pattern: str, view, name: str) -> list:
    view = view.as_view()
    return [re_path(rf"^{pattern}$", view, name=name), re_path(rf"^{pattern}/$", view)]
