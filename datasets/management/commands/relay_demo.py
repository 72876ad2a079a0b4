"""Fill a demo team with real generated speech, ingested and annotated, so a newcomer sees data."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand

from datasets import annotations, services, tasks
from datasets.models import Dataset
from relayml import synth
from relayweb.models import ApiKey, Membership, Role, Team

DATASET_NAME = "TTS Quality Detection (demo)"
TYPES = [
    {"name": "glitch", "description": "Audio pop, click, or distortion", "color": "#E6194B"},
    {"name": "long_pause", "description": "Unnatural silence > 500 ms", "color": "#4363D8"},
    {"name": "clipping", "description": "Flat-topped, overdriven samples", "color": "#F58231"},
    {"name": "dropout", "description": "Audio cuts to digital silence", "color": "#911EB4"},
]
FORMATS = ["wav", "mp3", "flac", "ogg", "m4a"]
TRAINING_DEFAULTS = {"validation_split": 0.2, "learning_rate": 0.003, "batch_size": 32, "chunk_size_ms": 500,
                     "stride_ms": 250, "context_ms": 1000}  # fmt: skip


class Command(BaseCommand):
    help = "Create a demo team, user and dataset of generated speech with a published annotation set."

    def add_arguments(self, parser):
        # 26 clips of 4 sentences make the 5 minutes of audio training asks for.
        parser.add_argument("--files", type=int, default=26)
        parser.add_argument("--sentences", type=int, default=4)
        parser.add_argument("--team", default="Demo")
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="relay-demo")
        parser.add_argument("--epochs", type=int, default=10, help="training epochs (0: do not train)")

    def handle(self, *args, files, sentences, team, username, password, epochs, **options):
        team_obj, _ = Team.objects.get_or_create(name=team)
        user = self.demo_user(team_obj, username, password)
        for old in Dataset.objects.filter(team=team_obj, name=DATASET_NAME):
            services.delete_dataset(old)
        dataset = services.create_dataset(
            team_obj, DATASET_NAME, "Generated with espeak-ng by relay_demo.", TYPES
        )
        labelled = self.add_audio(dataset, files, sentences)
        published = self.annotate(dataset, labelled, user)
        if epochs:
            self.train(team_obj, dataset, published, epochs, user)
        _, key = ApiKey.issue(team_obj, Role.ADMIN, name="relay_demo", user=user)
        self.stdout.write(
            f"Demo ready: {len(labelled)} files, annotation set v{published.version} published.\n"
            f"Sign in at /login/ as {username} / {password}\n"
            f"API key (admin, team {team}): {key}"
        )

    def train(self, team, dataset, published, epochs: int, user) -> None:
        """Train inline (the same task the GPU worker runs), so the demo has a model at once."""
        from relayweb.errors import Conflict
        from training import services as training
        from training.builtin import BUILTINS
        from training.models import DetectorModel
        from training.tasks import train_job

        config = {**TRAINING_DEFAULTS, "artifact_types": [t["name"] for t in TYPES], "epochs": epochs}
        # Fine-tuned from Relay's built-in base model when it is installed: a good model from little data.
        base = DetectorModel.objects.filter(pk=BUILTINS[0].id).first()
        config["base_model_id"] = str(base.id) if base else None
        try:
            job = training.create_job(team, dataset, published, config, user, queue=False)
        except Conflict as exc:
            self.stdout.write(f"  not training: {exc.detail}")
            return
        start = f"from {base.name}" if base else "from scratch"
        self.stdout.write(f"  training {epochs} epochs {start} …")
        train_job(str(job.id))
        job.refresh_from_db()
        model = getattr(job, "detector", None)
        f1 = model.metrics["overall"]["f1"] if model else None
        self.stdout.write(f"  training {job.status}: model {model.name if model else '—'}, event F1 {f1}")

    def demo_user(self, team: Team, username: str, password: str):
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = user.is_superuser = True  # so the demo shows the admin too
        user.save()
        Membership.objects.update_or_create(team=team, user=user, defaults={"role": Role.OWNER})
        return user

    def add_audio(self, dataset: Dataset, count: int, sentences: int) -> list:
        labelled = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(count):
                clip = synth.make_clip(1000 + i, sentences=sentences)
                path = synth.write_clip(clip, Path(tmp) / f"demo_{i:03d}", FORMATS[i % len(FORMATS)])
                upload = SimpleUploadedFile(path.name, path.read_bytes())
                audio = services.create_audio(dataset, path.name, "", upload.size)
                services.store_upload(audio, upload)
                # Inline, so the demo is complete when the command returns, worker or not.
                status = tasks.ingest_audio(str(audio.id))
                self.stdout.write(f"  {path.name}: {status} ({clip.voice}, {clip.duration_ms / 1000:.1f} s)")
                labelled.append((audio, clip.labels))
        return labelled

    def annotate(self, dataset: Dataset, labelled: list, user):
        first = annotations.create_set(dataset, user=user)
        types = {t.name: t for t in dataset.artifact_types.all()}
        items = [
            {"audio_file": audio, "artifact_type": types[label.artifact_type], "start_ms": label.start_ms,
             "end_ms": label.end_ms, "confidence": 1.0, "extra_data": {"source": "relay_demo"}}
            for audio, labels in labelled for label in labels
        ]  # fmt: skip
        annotations.create_annotations(first, items, user)
        published = annotations.publish(first)
        annotations.create_set(dataset, copy_from=published, user=user)  # v2: a draft to keep editing
        return published
