"""A multipart/form-data body streamed from disk with a known length, reporting progress.

requests would read each file into memory to build a form; an hour of WAV is hundreds of MB. This
body is an iterable with `__len__`, so requests sends a Content-Length (which the server and S3's
presigned POST need) and streams the parts in 1 MiB pieces, calling `progress(sent, total)`.
"""

from __future__ import annotations

import mimetypes
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FilePart:
    name: str
    path: Path
    filename: str = ""
    content_type: str = ""

    @property
    def upload_name(self) -> str:
        return self.filename or self.path.name

    @property
    def mime(self) -> str:
        return self.content_type or content_type_of(self.path)


def content_type_of(path: Path) -> str:
    """A hint only: the server decides the format by decoding the bytes."""
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", " ").replace("\n", " ")


class MultipartBody:
    """Fields (name, value) first, then files, as browsers and S3's POST policy expect."""

    def __init__(
        self, fields: Sequence[tuple[str, str]], files: Sequence[FilePart], progress: Progress | None = None
    ) -> None:
        self.boundary = uuid.uuid4().hex
        self.fields, self.files, self.progress = list(fields), list(files), progress
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        sizes = sum(os.path.getsize(f.path) + len(b"\r\n") for f in self.files)
        self.length = sum(len(h) for h in self.headers()) + sizes + len(self.closing())

    def headers(self) -> list[bytes]:
        """Every part's header block (and a field's value, which is small)."""
        out = []
        for name, value in self.fields:
            out.append(
                f'--{self.boundary}\r\nContent-Disposition: form-data; name="{quoted(name)}"\r\n\r\n'.encode()
                + value.encode()
                + b"\r\n"
            )
        for part in self.files:
            out.append(
                (
                    f'--{self.boundary}\r\nContent-Disposition: form-data; name="{quoted(part.name)}"; '
                    f'filename="{quoted(part.upload_name)}"\r\nContent-Type: {part.mime}\r\n\r\n'
                ).encode()
            )
        return out

    def closing(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode()

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        heads = self.headers()
        for head in heads[: len(self.fields)]:
            sent += len(head)
            yield head
        for head, part in zip(heads[len(self.fields) :], self.files, strict=True):
            sent += len(head)
            yield head
            with open(part.path, "rb") as stream:
                while chunk := stream.read(CHUNK):
                    sent += len(chunk)
                    self.report(sent)
                    yield chunk
            sent += 2
            yield b"\r\n"
        tail = self.closing()
        sent += len(tail)
        self.report(sent)
        yield tail

    def report(self, sent: int) -> None:
        if self.progress is not None:
            self.progress(min(sent, self.length), self.length)
