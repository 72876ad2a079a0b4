from django.contrib import admin

from inference.models import InferenceFile, InferenceJob


class InferenceFileInline(admin.TabularInline):
    model = InferenceFile
    fields = ["original_filename", "status", "duration_ms", "detection_count", "error_message"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(InferenceJob)
class InferenceJobAdmin(admin.ModelAdmin):
    list_display = ["id", "team", "model_name", "status", "device", "created_at", "completed_at"]
    list_filter = ["status", "team"]
    search_fields = ["id", "model_name", "files__original_filename"]
    readonly_fields = ["created_at", "started_at", "completed_at"]
    inlines = [InferenceFileInline]


@admin.register(InferenceFile)
class InferenceFileAdmin(admin.ModelAdmin):
    list_display = ["original_filename", "job", "status", "duration_ms", "detection_count", "processed_at"]
    list_filter = ["status"]
    search_fields = ["original_filename", "id"]
    readonly_fields = ["created_at", "processed_at", "detections"]
