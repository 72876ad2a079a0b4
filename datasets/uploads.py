"""Streaming uploads to disk with the size limit enforced while the bytes arrive."""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from relayweb import storage
from relayweb.errors import Conflict, PayloadTooLarge, Unprocessable


def uploaded_files(request) -> list:
    """The request's multipart `file` fields; none is a 422."""
    files = request.FILES.getlist("file")
    if not files:
        raise Unprocessable(
            ["body", "file"], "field required: send audio as multipart 'file'", "value_error.missing"
        )
    return files


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"File is larger than the upload limit of {limit / 1024 / 1024:g} MB")


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Every file goes to a temporary file (never memory) and is refused past the limit.

    A view may lower the limit for one request by setting `request.relay_upload_limit`.
    """

    def limit(self) -> int:
        return getattr(self.request, "relay_upload_limit", settings.RELAY_MAX_UPLOAD_BYTES)

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # Refuse before reading a byte when the body alone is already too big.
        if content_length and content_length > self.limit() + 1024 * 1024:
            raise too_large(self.limit())

    def new_file(self, *args, **kwargs):
        os.makedirs(settings.FILE_UPLOAD_TEMP_DIR, exist_ok=True)
        self.received = 0
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit():
            self.file.close()
            raise too_large(self.limit())
        return super().receive_data_chunk(raw_data, start)


def remove_stale_temp_files() -> int:
    """Upload temporary files untouched for RELAY_TEMP_FILE_MAX_AGE_S belong to a request that died
    (a killed web server leaves them); a live upload keeps touching its file, so it is never taken."""
    limit = time.time() - settings.RELAY_TEMP_FILE_MAX_AGE_S
    removed = 0
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    for path in folder.iterdir() if folder.is_dir() else ():
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # finished (renamed into place) while we looked
            pass
    return removed


def checked_direct_upload(key: str, declared: int | None) -> int:
    """The size of a file a client put straight into the bucket, once it is known to be there and of
    the size it declared (at most RELAY_MAX_UPLOAD_BYTES); a wrong one is deleted."""
    size = storage.size(key)
    if size is None:
        raise Conflict("No file has been uploaded yet: POST it to upload_url (with its fields) first")
    if size == declared and size <= settings.RELAY_MAX_UPLOAD_BYTES:
        return size
    storage.delete(key)  # the URL stays valid: the right file may still be sent
    limit = min(declared if declared is not None else size, settings.RELAY_MAX_UPLOAD_BYTES)
    if size > limit:
        raise too_large(limit)
    raise Unprocessable(
        ["body", "file"], f"file is {size} bytes but upload-url declared file_size={declared}"
    )
