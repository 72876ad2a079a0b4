from django.contrib import admin

from training.models import DetectorModel, TrainingJob


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "team",
        "status",
        "progress",
        "current_epoch",
        "device",
        "created_at",
        "completed_at",
    ]
    list_filter = ["status", "device", "team"]
    search_fields = ["id", "dataset_id", "error_message"]
    readonly_fields = ["history", "heartbeat_at", "started_at", "completed_at"]


@admin.register(DetectorModel)
class DetectorModelAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "annotation_set_version", "size_bytes", "created_at"]
    list_filter = ["team"]
    search_fields = ["name", "id", "dataset_id"]
    readonly_fields = ["metrics", "config", "file_path", "size_bytes"]
