"""Shared serializer machinery: plain model fields read directly, and responses rendered by orjson.

Lists and a job's embedded files serialize hundreds of rows per request. DRF's field-by-field walk
(get_attribute, is_simple_callable, to_representation for every cell) and the standard library's
JSON encoder were most of a list request's CPU (bench/load.py, docs/benchmarks.md); the output is
the same byte for byte in meaning, only cheaper to produce.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from rest_framework import fields, serializers
from rest_framework.relations import PKOnlyObject
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder


def timestamp(value: datetime) -> str:
    """As DRF's DateTimeField writes it (REST_FRAMEWORK["DATETIME_FORMAT"], in UTC)."""
    return value.astimezone(UTC).strftime(api_settings.DATETIME_FORMAT)


def same(value: Any) -> Any:
    return value


# Types whose to_representation only converts the value (exact types: a subclass may do more).
PLAIN = {fields.CharField: str, fields.IntegerField: int, fields.FloatField: float, fields.BooleanField: bool}


def direct_conversion(field: fields.Field) -> Callable[[Any], Any] | None:
    """What `field.to_representation` does to a non-None value, where that is this simple."""
    kind = type(field)
    if kind in PLAIN:
        return PLAIN[kind]
    if kind is fields.UUIDField and field.uuid_format == "hex_verbose":
        return str
    if kind is fields.DateTimeField:
        ours = api_settings.DATETIME_FORMAT
        wanted = getattr(field, "format", ours)
        return timestamp if ours not in (None, "iso-8601") and wanted == ours else None
    if kind is fields.JSONField and not field.binary:
        return same
    if kind is fields.ChoiceField:
        choices = field.choice_strings_to_values
        return lambda value: choices.get(str(value), value)
    return None


class DirectModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer that reads its plain fields straight off the row.

    Fields with a single-attribute source and a simple type (see direct_conversion) are read with
    getattr and converted once; every other field (method fields, nested serializers, dotted
    sources) goes through DRF as usual. The plan is built once per serializer instance, which
    `many=True` shares across the rows of a page.
    """

    def to_representation(self, instance) -> dict:
        plan = self.__dict__.get("_direct_plan")
        if plan is None:
            plan = self.__dict__["_direct_plan"] = [self._plan_field(f) for f in self._readable_fields]
        data = {}
        for name, attribute, convert, field in plan:
            if convert is not None:
                value = getattr(instance, attribute)
                data[name] = None if value is None else convert(value)
            else:
                value = field.get_attribute(instance)
                check = value.pk if isinstance(value, PKOnlyObject) else value  # as DRF does
                data[name] = None if check is None else field.to_representation(value)
        return data

    @staticmethod
    def _plan_field(field: fields.Field) -> tuple:
        convert = direct_conversion(field)
        if convert is None or len(field.source_attrs) != 1 or field.source == "*":
            return (field.field_name, None, None, field)
        return (field.field_name, field.source_attrs[0], convert, field)


_encoder = JSONEncoder()


def encode_other(value: Any) -> Any:
    """What orjson does not know (lazy translations, Decimal, …) DRF's encoder turns into JSON types."""
    return _encoder.default(value)


# Datetimes as DRF writes them (through encode_other), keys like the standard library's.
OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class FastJSONRenderer(JSONRenderer):
    """DRF's JSON renderer through orjson (about ten times faster). Values may include
    orjson.Fragment: JSON already rendered and stored as text (a file's detections), embedded
    without decoding it. `; indent=N` in Accept gives orjson's only indentation, two spaces."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type or "", renderer_context or {})
        options = OPTIONS | (orjson.OPT_INDENT_2 if indent else 0)
        try:
            return orjson.dumps(data, default=encode_other, option=options)
        except orjson.JSONEncodeError:
            # Integers past 64 bits (a page number echoed back, say) only the standard library
            # writes; responses with fragments never hold one.
            return super().render(data, accepted_media_type, renderer_context)
