from django.contrib import admin

from datasets.models import Annotation, AnnotationSet, ArtifactType, AudioFile, Dataset


class ArtifactTypeInline(admin.TabularInline):
    model = ArtifactType
    extra = 0


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_at", "updated_at"]
    list_filter = ["team"]
    search_fields = ["name", "description"]
    inlines = [ArtifactTypeInline]


@admin.register(ArtifactType)
class ArtifactTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "dataset", "color", "position"]
    list_filter = ["kind", "dataset__team"]
    search_fields = ["name", "dataset__name"]


@admin.register(AudioFile)
class AudioFileAdmin(admin.ModelAdmin):
    list_display = [
        "original_filename", "dataset", "processing_status", "detected_format",
        "duration_ms", "size_bytes", "created_at",
    ]  # fmt: skip
    list_filter = ["processing_status", "detected_format", "dataset__team"]
    search_fields = ["original_filename", "sha256", "id", "dataset__name"]
    readonly_fields = ["sha256", "original_path", "uploaded_at", "queued_at", "processed_at"]
    date_hierarchy = "created_at"


@admin.register(AnnotationSet)
class AnnotationSetAdmin(admin.ModelAdmin):
    list_display = ["dataset", "version", "status", "created_at", "published_at"]
    list_filter = ["status", "dataset__team"]
    search_fields = ["dataset__name"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = [
        "artifact_type",
        "audio_file",
        "start_ms",
        "end_ms",
        "confidence",
        "annotation_set",
    ]
    list_filter = ["artifact_type__name", "annotation_set__status"]
    search_fields = ["audio_file__original_filename", "artifact_type__name"]
    raw_id_fields = ["audio_file", "annotation_set"]
