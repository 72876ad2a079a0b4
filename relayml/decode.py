"""Decoding any supported audio file into float32 blocks, deciding the type by its content.

libsndfile (through soundfile) reads WAV, FLAC, OGG/Vorbis/Opus and MP3 directly; everything else
(M4A/AAC, WebM, raw AAC, …) goes through Debian's ffmpeg, piped so nothing is held whole.
Errors are `AudioDecodeError`s whose message a person can act on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import soundfile as sf

BLOCK_SECONDS = 10
# What a second of audio costs once stored as canonical 16 kHz mono 16-bit PCM.
CANONICAL_BYTES_PER_S = 16_000 * 2

SUPPORTED = "WAV, MP3, FLAC, OGG, M4A/MP4, WebM or AAC"

# libsndfile's major formats, with the name and MIME type we report.
SNDFILE_FORMATS = {
    "WAV": ("wav", "audio/wav"),
    "WAVEX": ("wav", "audio/wav"),
    "RF64": ("wav", "audio/wav"),
    "W64": ("wav", "audio/wav"),
    "FLAC": ("flac", "audio/flac"),
    "OGG": ("ogg", "audio/ogg"),
    "MP3": ("mp3", "audio/mpeg"),
    "MPEG": ("mp3", "audio/mpeg"),
    "AIFF": ("aiff", "audio/aiff"),
}

# ffprobe's format names (first of a comma list) and codecs, to ours.
FFMPEG_FORMATS = {
    "mov": ("m4a", "audio/mp4"),
    "mp4": ("m4a", "audio/mp4"),
    "m4a": ("m4a", "audio/mp4"),
    "matroska": ("webm", "audio/webm"),
    "webm": ("webm", "audio/webm"),
    "aac": ("aac", "audio/aac"),
    "ogg": ("ogg", "audio/ogg"),
    "mp3": ("mp3", "audio/mpeg"),
    "wav": ("wav", "audio/wav"),
    "flac": ("flac", "audio/flac"),
}


class AudioDecodeError(Exception):
    """The file cannot be used; the message says why in words a person can act on."""


@dataclass(frozen=True)
class Limits:
    """What a careless or hostile file may not exceed: checked on the header before decoding (a 3 KB
    WAV may declare 2^31 Hz, or days of audio), and the duration again while decoding (headers lie,
    and a few KB of FLAC silence can decode to hours)."""

    max_duration_s: float = 6 * 3600
    # Decoded audio, as stored (16 kHz mono 16-bit), may be at most this many times the upload's size:
    # ordinary codecs stay far below (a 16 kbps Opus is 16×); 96 KB of FLAC silence is an hour (1700×).
    max_expansion: float = 100.0
    min_sample_rate: int = 1_000
    max_sample_rate: int = 384_000
    max_channels: int = 32


@dataclass(frozen=True)
class SourceInfo:
    format: str
    content_type: str
    sample_rate: int
    channels: int
    # Frames the container declares, when it does; used to spot truncation.
    declared_frames: int | None
    backend: str
    # The length the container claims where it is no proof of truncation (ffprobe's estimate).
    claimed_frames: int | None = None
    # Decoding stops with the error `limit` past this many frames (the duration or size limit).
    max_frames: int | None = None
    limit: str = ""


def probe(path: str, limits: Limits | None = None) -> SourceInfo:
    size = os.path.getsize(path)
    if size == 0:
        raise AudioDecodeError("file is empty (0 bytes)")
    try:
        info = probe_sndfile(path)
    except (sf.LibsndfileError, RuntimeError):
        info = probe_ffmpeg(path)
    return within(info, limits or Limits(), size)


def hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def within(info: SourceInfo, limits: Limits, size: int) -> SourceInfo:
    """The probed stream checked against the limits, with the frame cap decoding must respect."""
    name = info.format.upper()
    if not limits.min_sample_rate <= info.sample_rate <= limits.max_sample_rate:
        raise AudioDecodeError(
            f"{name} header declares a sample rate of {info.sample_rate} Hz; supported rates are "
            f"{limits.min_sample_rate}–{limits.max_sample_rate} Hz"
        )
    if info.channels > limits.max_channels:
        raise AudioDecodeError(
            f"{name} header declares {info.channels} channels; at most {limits.max_channels} are supported"
        )
    seconds = limits.max_duration_s
    header = f"the limit is {hours(seconds)}"
    running = f"the file is longer than the limit of {hours(seconds)} (found while decoding it)"
    by_size = limits.max_expansion * size / CANONICAL_BYTES_PER_S
    if by_size < seconds:
        seconds = by_size
        header = running = (
            f"the file decodes to more than {hours(seconds)} of audio, over {limits.max_expansion:g}× "
            f"the {size / 1024:.0f} KB uploaded (mostly digital silence, or a crafted file), which is refused"
        )
    max_frames = int(seconds * info.sample_rate)
    claimed = info.declared_frames or info.claimed_frames
    if claimed and claimed > max_frames:
        length = f"the file is {hours(claimed / info.sample_rate)} long"
        raise AudioDecodeError(f"{length}; {header}" if header.startswith("the limit") else header)
    return replace(info, max_frames=max_frames, limit=running)


def probe_sndfile(path: str) -> SourceInfo:
    info = sf.info(path)
    name, mime = SNDFILE_FORMATS.get(info.format, (info.format.lower(), "audio/" + info.format.lower()))
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioDecodeError(f"{name.upper()} header is invalid (sample rate or channels is 0)")
    declared, backend = None, "sndfile"
    if name == "wav":
        # libsndfile trims the frame count to the bytes present; the header tells the truth.
        declared = wav_declared_frames(path)
    elif name == "flac":
        # A FLAC written to a pipe has no total in its header; libsndfile then reports nonsense.
        plausible = 0 < info.frames < info.samplerate * 86_400
        declared = info.frames if plausible else None
    elif name == "mp3":
        # libsndfile pads a cut MP3 with silence up to its Xing length; ffmpeg decodes what is there.
        declared, backend = info.frames or None, "ffmpeg"
    return SourceInfo(name, mime, info.samplerate, info.channels, declared, backend)


def wav_declared_frames(path: str) -> int | None:
    """Frames the RIFF `data` chunk declares, or None for streamed WAVs with no size."""
    with open(path, "rb") as f:
        header = f.read(12)
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return None
        block_align = None
        while chunk := f.read(8):
            if len(chunk) < 8:
                return None
            chunk_id, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if chunk_id == b"fmt ":
                fmt = f.read(size + size % 2)
                block_align = int.from_bytes(fmt[12:14], "little")
            elif chunk_id == b"data":
                if not block_align or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
            else:
                f.seek(size + size % 2, os.SEEK_CUR)
    return None


def ogg_is_complete(path: str) -> bool:
    """An Ogg stream ends with a page flagged end-of-stream; a cut file lacks it."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 65536))
        tail = f.read()
    last = tail.rfind(b"OggS")
    return last >= 0 and len(tail) > last + 5 and bool(tail[last + 5] & 0x04)


def ffmpeg_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AudioDecodeError(f"{name} is not installed on the server, so this format cannot be read")
    return path


def probe_ffmpeg(path: str) -> SourceInfo:
    command = [
        ffmpeg_binary("ffprobe"), "-v", "error", "-show_entries",
        "format=format_name,duration:stream=codec_type,codec_name,sample_rate,channels",
        "-of", "json", path,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AudioDecodeError(describe_ffmpeg_failure(result.stderr))
    data = json.loads(result.stdout or "{}")
    audio = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise AudioDecodeError(f"not an audio file: it holds no audio stream (expected {SUPPORTED})")
    stream = audio[0]
    container = data.get("format", {}).get("format_name", "").split(",")[0]
    name, mime = FFMPEG_FORMATS.get(container, (container, "audio/" + container))
    if container in {"mov", "mp4", "m4a"} and stream.get("codec_name") not in {
        "aac",
        "alac",
        "mp3",
    }:
        name = "mp4"
    rate, channels = int(stream.get("sample_rate") or 0), int(stream.get("channels") or 0)
    if rate <= 0 or channels <= 0:
        raise AudioDecodeError(f"{name.upper()} audio stream has no sample rate or channels")
    # The container's duration: not trusted to spot truncation, but enough to refuse a long file early.
    declared = int(float(data.get("format", {}).get("duration") or 0) * rate) or None
    return SourceInfo(name, mime, rate, channels, None, "ffmpeg", claimed_frames=declared)


def describe_ffmpeg_failure(stderr: str) -> str:
    text = stderr.strip()
    first = text.splitlines()[-1] if text else "unknown error"
    if "moov atom not found" in text:
        return "truncated or corrupt M4A/MP4 file: its index (moov atom) is missing"
    if "Invalid data found" in text or "could not find codec" in text.lower():
        return f"not an audio file: it could not be decoded as {SUPPORTED}"
    return f"could not decode the file: {first.split(': ', 1)[-1]}"


def iter_blocks(path: str, info: SourceInfo) -> Iterator[np.ndarray]:
    """Yield float32 blocks shaped (frames, channels) until the end of the stream, or an error once
    the stream runs past the duration limit."""
    frames = 0
    for block in iter_any(path, info):
        frames += len(block)
        if info.max_frames is not None and frames > info.max_frames:
            raise AudioDecodeError(info.limit)
        yield block


def iter_any(path: str, info: SourceInfo) -> Iterator[np.ndarray]:
    if info.backend != "sndfile":
        yield from iter_ffmpeg(path, info)
        return
    blocks = iter_sndfile(path, info)
    try:
        first = next(blocks)
    except AudioDecodeError:
        # libsndfile gives up on some valid files (a FLAC streamed without seek points); ffmpeg
        # does not, and still reports a truly corrupt stream as such.
        yield from iter_ffmpeg(path, replace(info, backend="ffmpeg", declared_frames=None))
        return
    yield first
    yield from blocks


def iter_sndfile(path: str, info: SourceInfo) -> Iterator[np.ndarray]:
    blocksize = info.sample_rate * BLOCK_SECONDS
    frames = 0
    try:
        for block in sf.blocks(path, blocksize=blocksize, dtype="float32", always_2d=True):
            frames += len(block)
            yield block
    except (sf.LibsndfileError, RuntimeError) as exc:
        reason = str(exc).removeprefix("Error : ").strip()
        raise AudioDecodeError(f"truncated or corrupt {info.format.upper()} stream ({reason})") from exc
    check_complete(info, frames)
    if info.format == "ogg" and not ogg_is_complete(path):
        raise AudioDecodeError(
            f"truncated OGG stream: it stops after {frames / info.sample_rate:.2f} s "
            "without an end-of-stream page"
        )


def check_complete(info: SourceInfo, frames: int) -> None:
    if frames == 0:
        raise AudioDecodeError(f"{info.format.upper()} file holds no audio samples")
    # MP3 lengths come from the Xing header and differ by the encoder's padding.
    slack = max(4096, info.declared_frames // 100) if info.format == "mp3" and info.declared_frames else 0
    if info.declared_frames and frames < info.declared_frames - slack:
        raise AudioDecodeError(
            f"truncated {info.format.upper()} stream: the header declares "
            f"{info.declared_frames / info.sample_rate:.2f} s but only "
            f"{frames / info.sample_rate:.2f} s is present"
        )


def iter_ffmpeg(path: str, info: SourceInfo) -> Iterator[np.ndarray]:
    command = [
        ffmpeg_binary("ffmpeg"), "-v", "error", "-nostdin", "-i", path,
        "-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1",
    ]  # fmt: skip
    block_bytes = info.sample_rate * BLOCK_SECONDS * info.channels * 4
    with (
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process,
        _drain(process) as stderr_lines,
    ):
        assert process.stdout is not None  # stdout=PIPE
        frames = 0
        pending = b""
        while chunk := process.stdout.read(block_bytes):
            data = pending + chunk
            usable = len(data) - len(data) % (4 * info.channels)
            pending = data[usable:]
            block = np.frombuffer(data[:usable], dtype="<f4").reshape(-1, info.channels)
            frames += len(block)
            yield block
        process.wait()
    errors = "".join(stderr_lines).strip()
    if process.returncode != 0 or errors:
        seconds = frames / info.sample_rate
        detail = errors.splitlines()[0] if errors else f"ffmpeg exited with {process.returncode}"
        detail = re.sub(r"^\[[^\]]*\]\s*", "", detail)
        if frames == 0:
            raise AudioDecodeError(describe_ffmpeg_failure(errors))
        raise AudioDecodeError(
            f"truncated or corrupt {info.format.upper()} stream after {seconds:.1f} s: {detail}"
        )
    check_complete(info, frames)


class _drain:
    """Read a process's stderr on a thread so a chatty decoder never blocks on a full pipe."""

    def __init__(self, process: subprocess.Popen):
        import threading

        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)

    def _read(self, stream) -> None:
        for line in stream:
            if len(self.lines) < 50:
                self.lines.append(line.decode(errors="replace"))

    def __enter__(self) -> list[str]:
        self.thread.start()
        return self.lines

    def __exit__(self, *exc) -> None:
        self.thread.join(timeout=5)
