"""Shapes of the contract's Inference section."""

from __future__ import annotations

import unicodedata

import orjson
from django.db.models import F, TextField, Window
from django.db.models.functions import Cast, RowNumber
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inference.models import ANALYSES, ARTIFACTS, InferenceFile, InferenceJob
from relayml.speech import DEFAULT_MODEL as DEFAULT_SPEECH_MODEL
from relayml.speech import MODELS as SPEECH_MODELS
from relayweb.scripts import ExpectedTextSerializer
from relayweb.serializers import DirectModelSerializer, timestamp

MAX_FILE_BYTES = 524_288_000  # Relay's limit on file_size_bytes


class PostprocessSerializer(serializers.Serializer):
    """Relay's defaults and ranges; post-processing is threshold → merge → minimum duration."""

    threshold = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.5)
    merge_window_ms = serializers.IntegerField(min_value=0, max_value=5000, default=200)
    min_duration_ms = serializers.IntegerField(min_value=0, max_value=1000, default=50)


class InferenceConfigSerializer(PostprocessSerializer):
    """A job's config: post-processing, and which analyses run (contract: Speech analyses)."""

    analyses = serializers.ListField(
        child=serializers.ChoiceField(choices=ANALYSES),
        min_length=1,
        default=lambda: [ARTIFACTS],
        help_text="artifacts (the model's detector), transcript (speech recognition, language, "
        "the script check for files with expected_text)",
    )
    speech_model = serializers.ChoiceField(
        choices=SPEECH_MODELS,
        default=DEFAULT_SPEECH_MODEL,
        help_text="whisper-base: multilingual, with language posteriors; whisper-tiny.en: English only, "
        "about 2.5x faster",
    )

    verdict_model_id = serializers.UUIDField(
        required=False, allow_null=True,
        help_text="with the verdict analysis: a human / artificial classifier of yours (training task "
        "classification); default: the built-in verdict model",
    )  # fmt: skip

    def validate_verdict_model_id(self, value):
        return str(value) if value else None  # the config is stored as JSON

    def validate_analyses(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))  # in the order given, each once


class InferenceJobCreateSerializer(serializers.Serializer):
    model_id = serializers.UUIDField(required=False, allow_null=True, help_text="required with artifacts")
    config = InferenceConfigSerializer(required=False)

    def validate(self, attrs: dict) -> dict:
        if "config" not in attrs:
            defaults = InferenceConfigSerializer(data={})
            defaults.is_valid(raise_exception=True)
            attrs["config"] = dict(defaults.validated_data)
        if ARTIFACTS in attrs["config"]["analyses"] and not attrs.get("model_id"):
            raise serializers.ValidationError(
                {"model_id": ["field required: the artifacts analysis runs a model"]}, code="required"
            )
        return attrs


class WordSerializer(serializers.Serializer):
    word = serializers.CharField()
    start_ms = serializers.IntegerField()
    end_ms = serializers.IntegerField()
    probability = serializers.FloatField()


class TranscriptSerializer(serializers.Serializer):
    """The contract's transcript (documentation: the views build the dicts)."""

    text = serializers.CharField()
    language = serializers.CharField()
    language_probs = serializers.DictField(child=serializers.FloatField())
    model = serializers.CharField()
    wer = serializers.FloatField(required=False, help_text="only with expected_text")
    cer = serializers.FloatField(required=False, help_text="only with expected_text")
    words = WordSerializer(many=True, required=False, help_text="in a file's own GET only")


class InferenceFileSerializer(DirectModelSerializer):
    inference_job_id = serializers.UUIDField(source="job_id", read_only=True)

    class Meta:
        model = InferenceFile
        fields = [
            "id", "inference_job_id", "original_filename", "s3_key", "content_type", "size_bytes",
            "duration_ms", "status", "error_message", "detections", "detection_count", "created_at",
            "processed_at", "expected_text", "transcript", "verdict",
        ]  # fmt: skip


# A job embeds at most this many of its files, each with its detections (a 500-file job's detail
# was already large); `files_truncated` says when there are more, to page through GET …/files.
MAX_EMBEDDED_FILES = 1000


class InferenceJobSerializer(DirectModelSerializer):
    """A job with its first files (context `files_limit`, default MAX_EMBEDDED_FILES)."""

    total_files = serializers.IntegerField(read_only=True)
    processed_files = serializers.IntegerField(read_only=True)
    failed_files = serializers.IntegerField(read_only=True)
    total_detections = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()
    files_truncated = serializers.SerializerMethodField(
        help_text="true when the job has more files than embedded: page through GET …/files"
    )

    class Meta:
        model = InferenceJob
        fields = [
            "id", "model_id", "model_name", "artifact_types", "config", "status", "total_files",
            "processed_files", "failed_files", "total_detections", "error_message", "device",
            "created_at", "started_at", "completed_at", "files", "files_truncated",
        ]  # fmt: skip

    def get_total_detections(self, job) -> int:
        return job.total_detections or 0

    def embedded(self, job) -> tuple[list, bool]:
        """The job's first files and whether it has more; a list view passes every job's at once
        (context `files`, from first_files), a single job's are fetched here."""
        found = self.context.get("files")
        if found is None or job.pk not in found:
            found = self.__dict__.setdefault("_files", {})
            if job.pk not in found:
                found.update(first_files([job.pk], self.context.get("files_limit", MAX_EMBEDDED_FILES)))
        return found[job.pk]

    @extend_schema_field(InferenceFileSerializer(many=True))
    def get_files(self, job) -> list:
        return self.embedded(job)[0]

    def get_files_truncated(self, job) -> bool:
        return self.embedded(job)[1]


def first_files(job_ids: list, limit: int) -> dict:
    """Each job's first `limit` files in InferenceFileSerializer's shape, and whether it has more.

    A 500-file job's detail spent most of its time building model instances and decoding then
    re-encoding every file's detections; here the rows come as tuples in one query and the
    detections stay the JSON text the database holds (orjson.Fragment, see relayweb.serializers).
    tests/test_inference_api.py checks the shape against the serializer's.
    """
    files = InferenceFile.objects.annotate(
        detections_json=Cast("detections", TextField()),
        transcript_json=Cast("transcript", TextField()),
        verdict_json=Cast("verdict", TextField()),
    )
    if len(job_ids) == 1:  # a job's detail: no window needed (it costs a sort of all the job's files)
        rows = files.filter(job_id=job_ids[0]).order_by("created_at", "id")[: limit + 1]
        numbered = [(*row, n) for n, row in enumerate(rows.values_list(*FILE_COLUMNS), start=1)]
    else:  # one row past the limit tells whether there are more
        order = [F("created_at"), F("id")]
        numbered = (
            files.filter(job_id__in=job_ids)
            .annotate(n=Window(RowNumber(), partition_by=F("job_id"), order_by=order))
            .filter(n__lte=limit + 1)
            .order_by("job_id", "n")
            .values_list(*FILE_COLUMNS, "n")
        )
    found: dict = {pk: ([], False) for pk in job_ids}
    for row in numbered:
        embedded, _ = found[row[1]]
        if row[-1] > limit:
            found[row[1]] = (embedded, True)
        else:
            embedded.append(file_dict(row))
    return found


FILE_COLUMNS = (
    "id", "job_id", "original_filename", "s3_key", "content_type", "size_bytes", "duration_ms",
    "status", "error_message", "detections_json", "detection_count", "created_at", "processed_at",
    "expected_text", "transcript_json", "verdict_json",
)  # fmt: skip


def file_dict(row: tuple) -> dict:
    fid, job_id, name, key, content_type, size, duration, status, error, detections, count, created, done = (
        row[:13]
    )
    script, transcript, verdict = row[13:16]
    return {
        "id": str(fid), "inference_job_id": str(job_id), "original_filename": name, "s3_key": key,
        "content_type": content_type, "size_bytes": size, "duration_ms": duration, "status": status,
        "error_message": error, "detections": orjson.Fragment(detections), "detection_count": count,
        "created_at": timestamp(created), "processed_at": None if done is None else timestamp(done),
        "expected_text": script, "transcript": None if transcript is None else orjson.Fragment(transcript),
        "verdict": None if verdict is None else orjson.Fragment(verdict),
    }  # fmt: skip


def plain_name(value: str) -> str:
    """Input names appear in result URLs (`…/results/{input_name}`): no slash, no control characters."""
    if "/" in value or any(unicodedata.category(c)[0] == "C" for c in value):
        raise serializers.ValidationError("an input name may not hold '/' or control characters")
    return value


class InputNameSerializer(serializers.Serializer):
    input_name = serializers.CharField(
        min_length=1, max_length=500, required=False, trim_whitespace=False, validators=[plain_name],
        help_text="its name in the job's results by input name, unique in the job (default: the file name)",
    )  # fmt: skip


class FileUploadUrlSerializer(ExpectedTextSerializer, InputNameSerializer):
    filename = serializers.CharField(min_length=1, max_length=500, trim_whitespace=False)
    file_size_bytes = serializers.IntegerField(min_value=1, max_value=MAX_FILE_BYTES)
    content_type = serializers.CharField(max_length=100, required=False, default="audio/wav")


class FileConfirmSerializer(serializers.Serializer):
    file_id = serializers.UUIDField()


# --- response shapes that add to a model's (documented in the schema; the views build the dicts) ---


class FileUploadUrlResponseSerializer(serializers.Serializer):
    file_id = serializers.UUIDField()
    upload_url = serializers.CharField()
    upload_fields = serializers.DictField(child=serializers.CharField(), help_text="opaque: send every entry")
    s3_key = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="seconds")


class InferenceUploadResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    items = InferenceFileSerializer(many=True)


class InferenceFileFullSerializer(InferenceFileSerializer):
    """One file with the transcript's words and the utterances (lists and a job's embedded files
    leave both out: an hour of speech is thousands of words)."""

    transcript = serializers.SerializerMethodField()

    class Meta(InferenceFileSerializer.Meta):
        fields = [*InferenceFileSerializer.Meta.fields, "utterances"]

    @extend_schema_field(TranscriptSerializer(allow_null=True))
    def get_transcript(self, f: InferenceFile) -> dict | None:
        return None if f.transcript is None else {**f.transcript, "words": f.words}


class InferenceFileDetailSerializer(InferenceFileFullSerializer):
    """GET .../files/{file_id}: detections at the settings asked for, and those settings."""

    config = PostprocessSerializer(read_only=True)

    class Meta(InferenceFileFullSerializer.Meta):
        fields = [*InferenceFileFullSerializer.Meta.fields, "config"]


class ExportItemSerializer(serializers.Serializer):
    """One file in a JSON export (the seed's `export_results` shape)."""

    filename = serializers.CharField()
    duration_ms = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=InferenceFile._meta.get_field("status").choices)
    detection_count = serializers.IntegerField()
    detections = serializers.ListField(child=serializers.DictField())
