"""Serving files with HTTP Range support (206 Partial Content), so players can seek."""

from __future__ import annotations

import re
from urllib.parse import quote

from django.http import Http404, HttpResponse, StreamingHttpResponse

from relayweb import storage

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
# The content type an upload declared is the client's word: served inline as given, `text/html`
# would run in our origin. Only audio and video types pass; anything else is octet-stream.
MEDIA_TYPE_RE = re.compile(r"^(audio|video)/[a-z0-9][a-z0-9.+-]{0,60}$")


def safe_media_type(content_type: str) -> str:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type if MEDIA_TYPE_RE.match(media_type) else "application/octet-stream"


def parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """(start, end inclusive) for one satisfiable range, None to send it all, 'bad' for a 416."""
    match = RANGE_RE.match(header.strip()) if header else None
    if match is None:
        return None  # absent, malformed or multi-range: RFC 9110 lets us send the whole file
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            return "bad"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return "bad"
    return start, end


def stored_file_response(
    request, key: str, content_type: str, filename: str, disposition: str = "inline"
) -> HttpResponse:
    """A stored file (relayweb.storage, local or in the bucket) with Range support; 404 when the
    bytes are missing. Streamed through this server from either storage, so access stays ours."""
    size = storage.size(key)
    if size is None:
        raise Http404("The file's content is missing from storage")
    span = parse_range(request.headers.get("Range", ""), size)
    if span == "bad":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = span if span else (0, size - 1)
    length = end - start + 1 if size else 0
    response = StreamingHttpResponse(
        storage.read_span(key, start, length),
        status=206 if span else 200,
        content_type=safe_media_type(content_type),
    )
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "private, max-age=3600"
    return response
