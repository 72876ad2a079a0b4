"""Every stored file, in one place: local files under MEDIA_ROOT, or an S3-compatible bucket.

Embedded (`make run`): files under MEDIA_ROOT. With `RELAY_STORAGE_URL=s3://bucket[/prefix]`
(and `RELAY_S3_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`) the same keys are
objects in the bucket, through django-storages and boto3, and workers on other machines share them.

Keys are relative paths, the same in both:

datasets/<dataset_id>/audio/<audio_id>/original      the uploaded bytes, untouched
datasets/<dataset_id>/audio/<audio_id>/canonical.wav 16 kHz mono PCM
datasets/<dataset_id>/audio/<audio_id>/peaks.npy     waveform min/max pairs (int8)
datasets/<dataset_id>/audio/<audio_id>/features.npy  log-mel and detail features (float16)
inference/<job_id>/<file_id>/{original,scores.u8,peaks.npy}
classifications/<team_id>/<id>/original
models/<model_id>/model.pt

relayml works on local paths. A worker reads an object through `local_copy` (a scratch copy with
S3; the file itself locally) and writes a folder of results through `output_dir`, whose `publish`
stores them. Scratch copies live under RELAY_DATA_DIR/tmp/scratch; a killed worker's are swept.

The client's file name never reaches the file system: it is only stored, sanitised, in the row.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.move import file_move_safe

MAX_FILENAME = 500
CHUNK = 256 * 1024
SCRATCH = "scratch"


# --- keys --------------------------------------------------------------------------------------


def dataset_prefix(dataset_id) -> str:
    return f"datasets/{dataset_id}"


def audio_prefix(audio) -> str:
    return f"{dataset_prefix(audio.dataset_id)}/audio/{audio.id}"


def original_relpath(audio) -> str:
    return f"{audio_prefix(audio)}/original"


def join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}"


def sanitize_filename(name: str) -> str:
    """A display name safe in headers and listings: no directories, controls or quotes."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.replace('"', "'").strip().lstrip(".").strip()
    return name[:MAX_FILENAME] or "audio"


# --- the backend -------------------------------------------------------------------------------


def is_s3() -> bool:
    return bool(settings.RELAY_STORAGE_URL)


def describe() -> str:
    return f"s3 ({settings.RELAY_STORAGE_URL})" if is_s3() else "local"


def check() -> str:
    """ "ok" when the storage answers (the bucket exists and we may list it); raises otherwise."""
    if is_s3():
        _client().head_bucket(Bucket=bucket().bucket_name)
    elif not Path(settings.MEDIA_ROOT).is_dir():
        raise FileNotFoundError(settings.MEDIA_ROOT)
    return "ok"


def absolute(key: str) -> Path:
    """The local file of a key (local storage only: with S3 use local_copy)."""
    return Path(settings.MEDIA_ROOT) / key


def bucket():
    """django-storages' S3Storage for RELAY_STORAGE_URL (one per configuration and process)."""
    return _bucket(settings.RELAY_STORAGE_URL, settings.RELAY_S3_ENDPOINT_URL, settings.RELAY_S3_REGION)


@functools.cache
def _bucket(url: str, endpoint: str, region: str):
    from storages.backends.s3 import S3Storage

    parts = urlsplit(url)
    return S3Storage(
        bucket_name=parts.netloc,
        location=parts.path.strip("/"),
        endpoint_url=endpoint or None,
        region_name=region or None,
        # Self-hosted servers (MinIO, moto) answer on one host name: the bucket goes in the path.
        addressing_style="path" if endpoint else None,
        signature_version="s3v4",
        file_overwrite=True,  # a key is ours alone: never renamed to make it unique
        default_acl=None,
        querystring_expire=settings.RELAY_UPLOAD_URL_EXPIRES,
    )


def object_key(key: str) -> str:
    """The key in the bucket (after RELAY_STORAGE_URL's prefix)."""
    from storages.utils import clean_name

    return bucket()._normalize_name(clean_name(key))


def _client():
    return bucket().connection.meta.client


# --- reading -----------------------------------------------------------------------------------


def missing(error: Exception) -> bool:
    """Whether a boto3 error says the object is not there (HEAD answers 404, GET NoSuchKey)."""
    from botocore.exceptions import ClientError

    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
    return code in ("404", "NoSuchKey", "NotFound")


def head(key: str) -> dict | None:
    """The bucket's HEAD of the object (size, ETag), or None when there is none (S3 only)."""
    try:
        return _client().head_object(Bucket=bucket().bucket_name, Key=object_key(key))
    except Exception as error:
        if missing(error):
            return None
        raise


def size(key: str) -> int | None:
    """The stored object's size in bytes, or None when there is none."""
    if not is_s3():
        path = absolute(key)
        return path.stat().st_size if path.is_file() else None
    found = head(key)
    return None if found is None else found["ContentLength"]


def names(prefix: str) -> list[str]:
    """The names of the objects directly under `prefix/`, sorted."""
    if not is_s3():
        folder = absolute(prefix)
        return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    root = object_key(prefix) + "/"
    found = (o.key.removeprefix(root) for o in bucket().bucket.objects.filter(Prefix=root))
    return sorted(name for name in found if "/" not in name)


def read_span(key: str, start: int, length: int) -> Iterator[bytes]:
    """`length` bytes from `start`, in chunks (a ranged GET with S3)."""
    if length <= 0:
        return
    if is_s3():
        body = _client().get_object(
            Bucket=bucket().bucket_name, Key=object_key(key), Range=f"bytes={start}-{start + length - 1}"
        )["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()
        return
    with open(absolute(key), "rb") as f:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def scratch_root() -> Path:
    root = Path(settings.RELAY_DATA_DIR) / "tmp" / SCRATCH
    root.mkdir(parents=True, exist_ok=True)
    return root


def sweep_scratch() -> int:
    """Remove the scratch folders of processes on this machine that died (killed mid-task)."""
    removed = 0
    for folder in scratch_root().iterdir():
        pid = folder.name.split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A private folder on this machine, removed when the block ends. Named by process id, so the
    next one made on this machine removes those a killed process left."""
    sweep_scratch()
    folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=scratch_root()))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def local_copies(keys: list[str]) -> Iterator[list[Path]]:
    """Local paths holding the objects' bytes for the block: the files themselves with local
    storage, downloaded scratch copies with S3 (missing objects are paths that do not exist)."""
    if not is_s3():
        yield [absolute(key) for key in keys]
        return
    with scratch_dir() as folder:
        paths = [folder / f"{index}-{Path(key).name}" for index, key in enumerate(keys)]
        for key, path in zip(keys, paths, strict=True):
            download(key, path)
        yield paths


def download(key: str, path: Path) -> bool:
    """Copy an object to a local file (S3 only); False when there is no such object."""
    try:
        bucket().bucket.download_file(object_key(key), str(path))
    except Exception as error:
        if missing(error):
            return False
        raise
    return True


@contextlib.contextmanager
def local_folders(prefixes: list[str], wanted: tuple[str, ...]) -> Iterator[list[Path]]:
    """For each prefix a local folder holding its `wanted` objects (those that exist) for the block:
    the stored folders themselves locally, scratch copies with S3."""
    if not is_s3():
        yield [absolute(prefix) for prefix in prefixes]
        return
    with scratch_dir() as root:
        folders = []
        for index, prefix in enumerate(prefixes):
            folder = root / str(index)
            folder.mkdir()
            for name in wanted:
                download(join(prefix, name), folder / name)
            folders.append(folder)
        yield folders


@contextlib.contextmanager
def local_copy(key: str) -> Iterator[Path]:
    with local_copies([key]) as (path,):
        yield path


class Outbox:
    """A local folder whose files become `prefix/<name>` objects: the stored folder itself with local
    storage (nothing to send), a scratch folder with S3 whose files `publish` uploads."""

    def __init__(self, path: Path, prefix: str, remote: bool):
        self.path, self.prefix, self.remote = path, prefix, remote
        self.sent: set[str] = set()

    def publish(self, *names: str) -> None:
        """Store the named files now (all of them when none is named), each once."""
        if not self.remote:
            return
        for path in sorted(self.path.iterdir()):
            if path.is_file() and (not names or path.name in names) and path.name not in self.sent:
                put_file(path, join(self.prefix, path.name))
                self.sent.add(path.name)


@contextlib.contextmanager
def output_dir(prefix: str) -> Iterator[Outbox]:
    """Where a worker writes results for `prefix`; with S3 only what it publishes is stored (partial
    results of a failure never are), and the scratch folder goes when the block ends."""
    if not is_s3():
        folder = absolute(prefix)
        folder.mkdir(parents=True, exist_ok=True)
        yield Outbox(folder, prefix, remote=False)
        return
    with scratch_dir() as folder:
        yield Outbox(folder, prefix, remote=True)


# --- writing -----------------------------------------------------------------------------------


def put_file(path: Path, key: str) -> int:
    """Store a local file under `key` (moved locally; uploaded with S3, the local file left to its
    scratch folder); returns its size."""
    size_bytes = path.stat().st_size
    if is_s3():
        bucket().bucket.upload_file(str(path), object_key(key))
    else:
        target = absolute(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
    return size_bytes


def save_upload(uploaded, key: str) -> int:
    """Store a streamed upload under `key` (a rename on the same disk locally); returns its size."""
    if is_s3():
        uploaded.seek(0)
        bucket().bucket.upload_fileobj(uploaded, object_key(key))
        return uploaded.size
    target = absolute(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(uploaded, "temporary_file_path"):
        file_move_safe(uploaded.temporary_file_path(), str(target), allow_overwrite=True)
    else:  # an in-memory file (scripts, the demo): copy it in chunks
        with open(target, "wb") as out:
            for chunk in uploaded.chunks():
                out.write(chunk)
    return target.stat().st_size


def copy(source: str, target: str) -> None:
    """One stored object copied to another key (server-side with S3)."""
    if is_s3():
        name = bucket().bucket_name
        _client().copy({"Bucket": name, "Key": object_key(source)}, name, object_key(target))
        return
    absolute(target).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(absolute(source), absolute(target))


def delete(key: str) -> None:
    if is_s3():
        _client().delete_object(Bucket=bucket().bucket_name, Key=object_key(key))
    else:
        absolute(key).unlink(missing_ok=True)


def delete_tree(prefix: str, keep: tuple[str, ...] = ()) -> None:
    """Every object under `prefix/` but those named in `keep` (directly under it)."""
    if not is_s3():
        folder = absolute(prefix)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
            return
        for path in folder.iterdir() if folder.is_dir() else ():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        return
    root = object_key(prefix) + "/"
    kept = {root + name for name in keep}
    doomed = [{"Key": o.key} for o in bucket().bucket.objects.filter(Prefix=root) if o.key not in kept]
    for start in range(0, len(doomed), 1000):  # DeleteObjects takes at most 1000 keys
        bucket().bucket.delete_objects(Delete={"Objects": doomed[start : start + 1000], "Quiet": True})


def remove_derived(audio) -> None:
    """Everything stored for an audio file but the original upload (after a failed ingest)."""
    delete_tree(audio_prefix(audio), keep=("original",))


# --- direct uploads ----------------------------------------------------------------------------


def presigned_post(key: str, max_bytes: int) -> tuple[str, dict]:
    """A presigned POST that lets a client put at most `max_bytes` at exactly `key` in the bucket.

    The policy's size range is advisory on servers that do not enforce it (moto): confirming an
    upload checks the object's size itself (datasets.uploads.checked_direct_upload).
    """
    conditions: list = [["content-length-range", 0, max_bytes]]
    post = _client().generate_presigned_post(
        Bucket=bucket().bucket_name,
        Key=object_key(key),
        Conditions=conditions,
        ExpiresIn=settings.RELAY_UPLOAD_URL_EXPIRES,
    )
    return post["url"], post["fields"]


# --- a local cache of objects, for reads that need a file (memory-mapped arrays, models) -------


def cached_copy(key: str) -> Path | None:
    """A local file with the object's bytes, or None when there is no such object.

    Locally the file itself. With S3 a copy under RELAY_DATA_DIR/cache/objects named by the object's
    ETag, so a replaced object is fetched again; the least recently used copies are removed beyond
    RELAY_S3_CACHE_MB.
    """
    if not is_s3():
        path = absolute(key)
        return path if path.is_file() else None
    found = head(key)
    if found is None:
        return None
    root = cache_root()
    name = hashlib.sha256(f"{key}\0{found['ETag']}".encode()).hexdigest()[:32] + Path(key).suffix
    path = root / name
    if not path.is_file():
        temporary = root / f".{name}.{os.getpid()}.part"
        bucket().bucket.download_file(object_key(key), str(temporary))
        os.replace(temporary, path)  # whole or not at all, also with two processes at once
        evict(root, settings.RELAY_S3_CACHE_MB * 1024 * 1024)
    os.utime(path)  # recently used
    return path


def cache_root() -> Path:
    root = Path(settings.RELAY_DATA_DIR) / "cache" / "objects"
    root.mkdir(parents=True, exist_ok=True)
    return root


def evict(root: Path, limit_bytes: int) -> None:
    stats = [(p.stat(), p) for p in root.iterdir() if p.is_file()]
    files = sorted((st.st_mtime, st.st_size, p) for st, p in stats)
    total = sum(bytes_ for _, bytes_, _ in files)
    for _, size_bytes, path in files[:-1]:  # never the newest: it was just fetched for use
        if total <= limit_bytes:
            return
        path.unlink(missing_ok=True)
        total -= size_bytes


def load_array(key: str):
    """A stored .npy array, memory-mapped (from the cached copy with S3); None when missing."""
    import numpy as np

    path = cached_copy(key)
    return None if path is None else np.load(path, mmap_mode="r")
