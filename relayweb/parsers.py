"""Request bodies parsed defensively: bounded size, bounded nesting, finite numbers only.

DRF's own parsers read a JSON body of any size (Django's DATA_UPLOAD_MAX_MEMORY_SIZE only guards
`request.body`), let Python's recursion limit decide how deep it may nest (a RecursionError: a 500),
and turn `1e400` into `inf`, which the database then refuses. Here each of these is the client's
error: 413 for the size, 400 for the rest, in the contract's shape.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deep enough for any real document (annotation extra_data included), far below the recursion limit.
MAX_DEPTH = 64


def finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` nests lists/objects more than `limit` levels (iteratively: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def loads(text: str | bytes) -> Any:
    """json.loads for untrusted text; every way it can be unacceptable is a ValueError."""
    try:
        value = json.loads(text, parse_float=finite_float, parse_constant=reject_constant)
    except RecursionError:
        raise ValueError(f"the document nests deeper than {MAX_DEPTH} levels") from None
    if too_deep(value):
        raise ValueError(f"the document nests deeper than {MAX_DEPTH} levels")
    return value


def read_bounded(stream) -> bytes:
    """The whole body, refused (413) past DATA_UPLOAD_MAX_MEMORY_SIZE as Django refuses forms."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if stream is None:
        return b""
    data = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return data


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            return loads(read_bounded(stream).decode(encoding))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        return QueryDict(read_bounded(stream), encoding=encoding)
