"""Inference over new audio in bounded memory: decode → 16 kHz mono → log-mel → model → frame scores.

No file is ever held whole. Audio is decoded in blocks, features are computed as a stream, and the
model scores windows of `span` frames with `context` frames of features on each side, exactly as
validation did in training (`relayml.train.predict_scores`), so the stitched scores equal scoring the
whole file at once (tested): no seams at window edges, and no duplicate detections, because
post-processing runs once over the stitched scores rather than per window.

Windows from consecutive files share model batches (`BatchedModel`), so a job of many short clips
keeps the model as busy as one long file. Scores are kept per frame as uint8 (steps of 1/255) in a
file next to the audio, so any threshold / merge window / minimum duration can be applied later
without running the model again (`detections_from_scores`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from relayml.decode import AudioDecodeError, Limits, probe
from relayml.features import SAMPLE_RATE, LogMelStream, PeakStream
from relayml.ingest import iter_canonical
from relayml.model import Detector
from relayml.scores import PEAKS_NAME, SCORES_NAME, quantise
from relayml.script_check import second_hearings
from relayml.speech import Audio, Recogniser, SpeechModelError, Transcript, Word, samples_of
from relayml.speech import decode as decode_for_hearing
from relayml.train import CHUNKS_PER_WINDOW


class InferenceCancelled(Exception):
    pass


@dataclass
class FileResult:
    """What one file's inference produced; `error` is set (and the rest empty) when it failed."""

    key: object
    duration_ms: int = 0
    frames: int = 0
    scores_path: Path | None = None
    error: str | None = None
    transcript: Transcript | None = None  # when the file was heard (relayml.speech)
    # The words of the script check's second hearing (relayml.script_check.second_hearings), if any.
    primed_words: list[Word] | None = None


class BatchedModel:
    """Scores windows from any number of files in shared batches; results go back to their file."""

    def __init__(self, detector: Detector, device: str = "cpu", batch_windows: int = 32):
        self.detector = detector
        self.device = device
        self.batch_windows = batch_windows
        geometry = detector.geometry
        self.span = geometry["chunk_frames"] * CHUNKS_PER_WINDOW
        self.context = geometry["context_frames"]
        self.mean = detector.mean.cpu().numpy().astype(np.float32)
        self.std = detector.std.cpu().numpy().astype(np.float32)
        self.queue: list[tuple[FileScorer, np.ndarray]] = []
        self.model = detector.model.to(device).eval()

    def submit(self, owner: FileScorer, window: np.ndarray) -> None:
        self.queue.append((owner, window))
        if len(self.queue) >= self.batch_windows:
            self.run()

    @torch.no_grad()
    def run(self) -> None:
        if not self.queue:
            return
        owners, windows = zip(*self.queue, strict=True)
        self.queue = []
        x = torch.from_numpy(np.stack(windows)).to(self.device)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.device.startswith("cuda")):
            logits = self.model(x)
        probs = torch.sigmoid(logits.float())[:, self.context : self.context + self.span].cpu().numpy()
        for owner, p in zip(owners, probs, strict=True):
            owner.receive(p)


@dataclass
class FileScorer:
    """Turns one file's feature stream into windows and writes the scores they come back with."""

    batcher: BatchedModel
    out: BinaryIO  # a binary file the uint8 scores are appended to, in frame order
    frames_in: int = 0
    frames_out: int = 0
    total: int | None = None  # known at the end of the stream
    buffer: np.ndarray = field(init=False)  # set in __post_init__
    offset: int = 0  # frame index of buffer[0]
    next_start: int = 0
    submitted: int = 0
    received: int = 0

    def __post_init__(self):
        b = self.batcher
        # `context` frames of zeros (the normalised mean) before frame 0, as training's padding.
        self.buffer = np.zeros((b.context, len(b.mean)), dtype=np.float32)
        self.offset = -b.context

    def push(self, features: np.ndarray) -> None:
        b = self.batcher
        x = (np.asarray(features, dtype=np.float32) - b.mean) / b.std
        self.buffer = np.concatenate([self.buffer, x])
        self.frames_in += len(x)
        while self.next_start + b.span + b.context <= self.offset + len(self.buffer):
            self.emit()

    def finish(self) -> None:
        """End of the stream: pad with zeros and send the last windows."""
        b = self.batcher
        self.total = self.frames_in
        while self.next_start < self.total:
            missing = self.next_start + b.span + b.context - (self.offset + len(self.buffer))
            if missing > 0:
                self.buffer = np.concatenate([self.buffer, np.zeros((missing, len(b.mean)), np.float32)])
            self.emit()

    def emit(self) -> None:
        b = self.batcher
        lo = self.next_start - b.context - self.offset
        window = self.buffer[lo : lo + b.span + 2 * b.context].copy()
        self.next_start += b.span
        # Keep only what the next window needs (its left context onwards): memory stays flat.
        drop = self.next_start - b.context - self.offset
        self.buffer = self.buffer[drop:]
        self.offset += drop
        self.submitted += 1
        b.submit(self, window)

    def receive(self, probs: np.ndarray) -> None:
        self.received += 1
        limit = self.total if self.total is not None else self.frames_in
        keep = max(0, min(len(probs), limit - self.frames_out))
        self.out.write(quantise(probs[:keep]).tobytes())
        self.frames_out += keep

    @property
    def done(self) -> bool:
        return self.total is not None and self.received == self.submitted


def stream_file(
    path: str,
    scorer: FileScorer,
    peaks_out: Path | None,
    should_stop: Callable[[], bool] | None,
    limits: Limits | None = None,
) -> int:
    """Decode, featurise and submit one file; returns its duration in ms at 16 kHz."""
    info = probe(path, limits)
    # The model's own features: one trained before a feature change keeps working.
    mel, peaks = LogMelStream(scorer.batcher.detector.features), PeakStream()
    peak_parts: list[np.ndarray] = []
    samples = 0
    for block in iter_canonical(path, info):
        if should_stop is not None and should_stop():
            raise InferenceCancelled()
        block = np.clip(block, -1.0, 1.0)
        samples += len(block)
        scorer.push(mel.push(block))
        if peaks_out is not None:
            peak_parts.append(peaks.push(block))
    if samples == 0:
        raise AudioDecodeError("the file decodes to no audio at all")
    scorer.push(mel.flush())
    scorer.finish()
    if peaks_out is not None:
        peak_parts.append(peaks.flush())
        np.save(peaks_out, np.concatenate(peak_parts))
    return round(samples * 1000 / SAMPLE_RATE)


def infer_files(
    detector: Detector,
    files: Iterable[tuple[object, str, Path]],
    device: str = "cpu",
    batch_windows: int = 32,
    should_stop: Callable[[], bool] | None = None,
    limits: Limits | None = None,
) -> Iterator[FileResult]:
    """Score (key, audio path, output folder) triples; yields each file's result once its scores are
    all written (a file that cannot be decoded yields an error and the others go on)."""
    batcher = BatchedModel(detector, device, batch_windows)
    open_files: list[tuple[FileResult, FileScorer, object]] = []
    for key, path, out_dir in files:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        scores_path = out_dir / SCORES_NAME
        result = FileResult(key=key, scores_path=scores_path)
        handle = open(scores_path, "wb")  # noqa: SIM115 - closed once its windows are all scored
        scorer = FileScorer(batcher, handle)
        try:
            result.duration_ms = stream_file(str(path), scorer, out_dir / PEAKS_NAME, should_stop, limits)
        except (AudioDecodeError, OSError, RuntimeError, ValueError) as exc:
            handle.close()
            batcher.queue = [(o, w) for o, w in batcher.queue if o is not scorer]
            yield FileResult(key=key, error=str(exc))
            continue
        open_files.append((result, scorer, handle))
        yield from finished(open_files)
    batcher.run()
    yield from finished(open_files)


def finished(open_files: list) -> Iterator[FileResult]:
    for entry in list(open_files):
        result, scorer, handle = entry
        if scorer.done:
            handle.close()
            result.frames = scorer.frames_out
            open_files.remove(entry)
            yield result


DECODE_ERRORS = (AudioDecodeError, OSError, RuntimeError, ValueError)
HEAR_BATCH_S = 600  # audio gathered before hearing: ten minutes is 38 MB of float32


def analyse_files(
    detector: Detector | None,
    recogniser: Callable[[], Recogniser] | None,
    files: Iterable[tuple[object, str, Path, bool]],
    device: str = "cpu",
    should_stop: Callable[[], bool] | None = None,
    limits: Limits | None = None,
    scripts: dict | None = None,
) -> Iterator[FileResult]:
    """The analyses a job asked for, per (key, audio path, output folder, hear) file: the detector's
    frame scores when there is a detector, and a transcript for the files whose `hear` is set; where
    `scripts` gives a heard file its script, the second hearing that confirms the script check's
    findings (the audio is only here).

    Files to hear are gathered until HEAR_BATCH_S of audio, then heard together (their utterances
    share Whisper's windows: relayml.speech.Recogniser). `recogniser` is called once, when the
    first batch needs it (loading Whisper takes seconds)."""
    files = list(files)
    hear = {key: wanted for key, _, _, wanted in files}
    paths = {key: (path, Path(out_dir)) for key, path, out_dir, _ in files}
    loaded: list[Recogniser] = []
    batch: list[tuple[FileResult, Audio]] = []

    def check() -> None:
        if should_stop is not None and should_stop():
            raise InferenceCancelled()

    def stopped() -> bool:
        check()  # raises when the job was cancelled
        return False

    def flush() -> Iterator[FileResult]:
        if not batch:
            return
        taken = batch[:]
        batch.clear()
        try:
            if not loaded:
                assert recogniser is not None  # only batched when there is one
                loaded.append(recogniser())
            heard = loaded[0].hear_many([audio for _, audio in taken], stopped)
        except SpeechModelError as exc:
            for result, _ in taken:
                yield FileResult(key=result.key, error=f"Speech recognition is unavailable: {exc}")
            return
        check()
        confirming = [
            (audio, transcript, (scripts or {}).get(result.key, ""), result.duration_ms)
            for (result, audio), transcript in zip(taken, heard, strict=True)
        ]
        primed = second_hearings(loaded[0], confirming)
        for (result, _), transcript, words in zip(taken, heard, primed, strict=True):
            result.transcript, result.primed_words = transcript, words
            yield result

    def gather(result: FileResult) -> Iterator[FileResult]:
        if result.error or (detector is not None and (not hear[result.key] or recogniser is None)):
            yield result
            return
        path, out_dir = paths[result.key]
        if not hear[result.key] or recogniser is None:
            # Neither detected nor heard (a verdict-only job): one decode still gives the file page
            # its peaks and the file its duration.
            try:
                audio = decode_for_hearing(path, limits, out_dir / PEAKS_NAME, check)
            except DECODE_ERRORS as exc:
                yield FileResult(key=result.key, error=str(exc))
                return
            result.duration_ms = round(samples_of(audio) * 1000 / SAMPLE_RATE)
            yield result
            return
        try:
            # Without a detector the peaks come from this pass (the file page draws them).
            audio = decode_for_hearing(
                path, limits, out_dir / PEAKS_NAME if detector is None else None, check
            )
        except DECODE_ERRORS as exc:
            yield FileResult(key=result.key, error=str(exc))
            return
        result.duration_ms = result.duration_ms or round(samples_of(audio) * 1000 / SAMPLE_RATE)
        batch.append((result, audio))
        if sum(samples_of(a) for _, a in batch) >= HEAR_BATCH_S * SAMPLE_RATE:
            yield from flush()

    if detector is not None:
        triples = [(key, path, out_dir) for key, path, out_dir, _ in files]
        for result in infer_files(detector, triples, device, should_stop=should_stop, limits=limits):
            yield from gather(result)
    else:
        for key, _, out_dir, _ in files:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            yield from gather(FileResult(key=key))
    yield from flush()
