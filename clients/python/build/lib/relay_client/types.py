"""The API's objects, as the contract (../shared/api-contract.md) defines them. total=False: a server
may add fields, and a client written against these keeps working."""

from __future__ import annotations

from typing import Any, TypedDict


class ArtifactType(TypedDict, total=False):
    name: str
    description: str
    color: str


class Dataset(TypedDict, total=False):
    id: str
    name: str
    description: str
    artifact_types: list[ArtifactType]
    audio_count: int
    annotation_set_count: int
    total_duration_ms: int
    created_at: str
    updated_at: str


class AudioFile(TypedDict, total=False):
    id: str
    original_filename: str
    content_type: str
    size_bytes: int
    sha256: str
    duration_ms: int
    sample_rate: int
    channels: int
    processing_status: str  # pending → normalizing → embedding → ready | failed
    error_message: str
    expected_text: str
    created_at: str


class Annotation(TypedDict, total=False):
    id: str
    audio_file_id: str
    artifact_type: str
    start_ms: int
    end_ms: int
    confidence: float
    extra_data: dict[str, Any]
    version: int


class AnnotationSet(TypedDict, total=False):
    id: str
    dataset_id: str
    version: int
    status: str  # draft | published
    total_annotations: int
    total_positive_duration_ms: int
    annotations_by_type: dict[str, int]
    annotations: list[Annotation]
    created_at: str
    published_at: str | None


class TrainingJob(TypedDict, total=False):
    id: str
    dataset_id: str
    annotation_set_id: str
    annotation_set_version: int
    config: dict[str, Any]
    status: str  # pending → queued → training → completed | failed | cancelled
    progress: float
    current_epoch: int
    history: list[dict[str, Any]]
    error_message: str
    model_id: str | None
    device: str
    created_at: str
    started_at: str | None
    completed_at: str | None


class Model(TypedDict, total=False):
    id: str
    name: str
    training_job_id: str | None
    dataset_id: str | None
    annotation_set_id: str | None
    annotation_set_version: int | None
    artifact_types: list[str]
    config: dict[str, Any]
    metrics: dict[str, Any]
    is_builtin: bool
    created_at: str


class Detection(TypedDict, total=False):
    artifact_type: str
    start_ms: int
    end_ms: int
    confidence: float
    source: str  # "model" | "transcript"
    details: dict[str, str]


class Transcript(TypedDict, total=False):
    text: str
    language: str
    language_probs: dict[str, float]
    words: list[dict[str, Any]]
    wer: float
    cer: float


class InferenceFile(TypedDict, total=False):
    id: str
    inference_job_id: str
    original_filename: str
    s3_key: str
    duration_ms: int
    status: str  # pending | queued | processing | completed | failed
    error_message: str
    detections: list[Detection]
    detection_count: int
    expected_text: str
    transcript: Transcript | None
    utterances: list[dict[str, Any]]
    processed_at: str | None


class InferenceJob(TypedDict, total=False):
    id: str
    model_id: str | None
    config: dict[str, Any]
    status: str  # pending | processing | completed | failed | cancelled
    total_files: int
    processed_files: int
    failed_files: int
    total_detections: int
    error_message: str
    created_at: str
    started_at: str | None
    completed_at: str | None
    files: list[InferenceFile]
