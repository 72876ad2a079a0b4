"""Request and response shapes of the contract's Training jobs and models section."""

from __future__ import annotations

from rest_framework import serializers

from relayml.verdict_heuristics import LABELS
from relayweb.serializers import DirectModelSerializer
from training.builtin import visible_models
from training.models import DetectorModel, ModelTask, TrainingJob


class TrainingConfigSerializer(serializers.Serializer):
    """Relay's defaults and ranges; `context_ms` is ours (audio seen around each chunk), and so is
    `task`: "detection" (artifact events, the default) or "classification" (a clip classifier of
    the dataset's `clip_classes`: all of them unless the config names two or more)."""

    task = serializers.ChoiceField(choices=ModelTask.values, default=ModelTask.DETECTION)
    artifact_types = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    clip_classes = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
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
        if data["task"] == ModelTask.CLASSIFICATION:
            data.pop("artifact_types", None)
            data["clip_classes"] = self.checked_classes(data.get("clip_classes"))
            for field in ("chunk_size_ms", "stride_ms", "context_ms"):  # a detector's, not a classifier's
                data.pop(field, None)
        else:
            data.pop("clip_classes", None)
            data["artifact_types"] = self.checked_types(data.get("artifact_types"))
            if data["stride_ms"] > data["chunk_size_ms"]:
                raise serializers.ValidationError({"stride_ms": ["stride_ms must not exceed chunk_size_ms"]})
        data["base_model_id"] = self.checked_base(data.get("base_model_id"), data["task"])
        return data

    def checked_types(self, types: list[str] | None) -> list[str]:
        if not types:
            raise serializers.ValidationError({"artifact_types": ["field required"]}, code="required")
        allowed = self.context.get("dataset_types")
        if allowed is not None:
            unknown = [t for t in types if t not in allowed]
            if unknown:
                raise serializers.ValidationError(
                    {
                        "artifact_types": [
                            f"not in this dataset: {', '.join(unknown)} (it has {', '.join(allowed)})"
                        ]
                    }
                )
        if len(set(types)) != len(types):
            raise serializers.ValidationError({"artifact_types": ["artifact types must not repeat"]})
        return types

    def checked_classes(self, classes: list[str] | None) -> list[str]:
        allowed = self.context.get("dataset_classes") or []
        classes = classes or list(allowed)
        unknown = [c for c in classes if c not in allowed]
        if unknown:
            have = ", ".join(allowed) or "none: declare them on the dataset first"
            raise serializers.ValidationError(
                {"clip_classes": [f"not in this dataset: {', '.join(unknown)} (it has {have})"]}
            )
        if len(set(classes)) != len(classes):
            raise serializers.ValidationError({"clip_classes": ["clip classes must not repeat"]})
        if len(classes) < 2:
            raise serializers.ValidationError(
                {"clip_classes": ["a classifier needs at least two clip classes"]}
            )
        # human / artificial in the verdict model's order: such a model gives verdicts.
        return list(LABELS) if set(classes) == set(LABELS) else classes

    def checked_base(self, base, task: str) -> str | None:
        models = self.context.get("models")
        if base is None or models is None:
            return str(base) if base else None
        found = models.filter(pk=base).first()
        if found is None:
            raise serializers.ValidationError({"base_model_id": ["no such model (yours or built in)"]})
        if found.task != task:
            raise serializers.ValidationError(
                {"base_model_id": [f"{found.name} is a {found.task} model; this job trains for {task}"]}
            )
        return str(base)


def config_context(dataset, team) -> dict:
    """What TrainingConfigSerializer checks a config against: the dataset's names, the team's models."""
    return {
        "dataset_types": [t.name for t in dataset.event_types()],
        "dataset_classes": [t.name for t in dataset.clip_classes()],
        "models": visible_models(team),
    }


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
    gives_verdicts = serializers.BooleanField(
        read_only=True, help_text="a human/artificial classifier: usable for verdicts (verdict_model_id)"
    )

    class Meta:
        model = DetectorModel
        fields = [
            "id", "name", "training_job_id", "dataset_id", "annotation_set_id", "annotation_set_version",
            "artifact_types", "task", "config", "metrics", "size_bytes", "created_at", "is_builtin",
            "gives_verdicts",
        ]  # fmt: skip


class DetectorModelPatchSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=200)
