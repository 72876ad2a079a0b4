"""Request and response shapes of the contract's Training jobs and models section."""

from __future__ import annotations

from rest_framework import serializers

from relayweb.serializers import DirectModelSerializer
from training.models import DetectorModel, TrainingJob


class TrainingConfigSerializer(serializers.Serializer):
    """Relay's defaults and ranges; `context_ms` is ours (audio seen around each chunk)."""

    artifact_types = serializers.ListField(child=serializers.CharField(max_length=100), allow_empty=False)
    epochs = serializers.IntegerField(min_value=1, max_value=100, default=20)
    validation_split = serializers.FloatField(min_value=0.1, max_value=0.5, default=0.2)
    learning_rate = serializers.FloatField(min_value=0.0001, max_value=0.1, default=0.001)
    batch_size = serializers.IntegerField(min_value=8, max_value=256, default=32)
    chunk_size_ms = serializers.IntegerField(min_value=100, max_value=10_000, default=500)
    stride_ms = serializers.IntegerField(min_value=10, max_value=10_000, default=250)
    context_ms = serializers.IntegerField(min_value=0, max_value=5_000, default=1000)
    # Ours: fine-tune from this model (a built-in one, or one of the team's) instead of from scratch.
    base_model_id = serializers.UUIDField(required=False, allow_null=True, default=None)

    def validate(self, data):
        if data["stride_ms"] > data["chunk_size_ms"]:
            raise serializers.ValidationError({"stride_ms": ["stride_ms must not exceed chunk_size_ms"]})
        allowed = self.context.get("dataset_types")
        if allowed is not None:
            unknown = [t for t in data["artifact_types"] if t not in allowed]
            if unknown:
                raise serializers.ValidationError(
                    {
                        "artifact_types": [
                            f"not in this dataset: {', '.join(unknown)} (it has {', '.join(allowed)})"
                        ]
                    }
                )
        if len(set(data["artifact_types"])) != len(data["artifact_types"]):
            raise serializers.ValidationError({"artifact_types": ["artifact types must not repeat"]})
        base, models = data.get("base_model_id"), self.context.get("models")
        if base is not None and models is not None and not models.filter(pk=base).exists():
            raise serializers.ValidationError({"base_model_id": ["no such model (yours or built in)"]})
        data["base_model_id"] = str(base) if base else None
        return data


class TrainingJobCreateSerializer(serializers.Serializer):
    dataset_id = serializers.UUIDField()
    annotation_set_id = serializers.UUIDField()
    config = serializers.DictField()


class TrainingJobSerializer(DirectModelSerializer):
    model_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = TrainingJob
        fields = [
            "id", "dataset_id", "annotation_set_id", "annotation_set_version", "config", "status",
            "progress", "current_epoch", "history", "error_message", "model_id", "device",
            "created_at", "started_at", "completed_at",
        ]  # fmt: skip


class DetectorModelSerializer(DirectModelSerializer):
    training_job_id = serializers.UUIDField(read_only=True, allow_null=True)
    is_builtin = serializers.BooleanField(read_only=True)

    class Meta:
        model = DetectorModel
        fields = [
            "id", "name", "training_job_id", "dataset_id", "annotation_set_id", "annotation_set_version",
            "artifact_types", "config", "metrics", "size_bytes", "created_at", "is_builtin",
        ]  # fmt: skip


class DetectorModelPatchSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=200)
