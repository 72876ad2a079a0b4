"""A small trainable dataset: real generated speech, ingested, labelled exactly, published."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from datasets import annotations, services, tasks
from datasets.models import Dataset
from relayml import synth
from tests import factories

TYPES = ["glitch", "long_pause", "clipping", "dropout"]


def trainable_dataset(
    team, clips: int = 6, sentences: int = 2, publish: bool = True
) -> tuple[Dataset, object]:
    dataset = factories.make_dataset(team, "Trainable")
    labelled = []
    for seed in range(clips):
        clip = synth.make_clip(500 + seed, sentences=sentences)
        audio = services.upload_and_queue(dataset, SimpleUploadedFile(f"clip{seed}.wav", wav_of(clip)))
        assert tasks.ingest_audio(str(audio.id)) == "ready"
        labelled.append((audio, clip.labels))
    draft = annotations.create_set(dataset)
    types = {t.name: t for t in dataset.artifact_types.all()}
    items = [
        {"audio_file": audio, "artifact_type": types[label.artifact_type], "start_ms": label.start_ms,
         "end_ms": label.end_ms, "confidence": 1.0, "extra_data": {}}
        for audio, labels in labelled for label in labels
    ]  # fmt: skip
    annotations.create_annotations(draft, items)
    return dataset, (annotations.publish(draft) if publish else draft)


def wav_of(clip) -> bytes:
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, clip.audio, synth.SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def trained_model(team, settings, clips: int = 3, epochs: int = 2):
    """A detector trained by the real training task, in this process, on a small published set."""
    from training import services as training_services
    from training import tasks as training_tasks
    from training.models import DetectorModel

    settings.RELAY_MIN_TRAINING_AUDIO_S = 5
    dataset, published = trainable_dataset(team, clips=clips)
    config = {
        "artifact_types": TYPES, "epochs": epochs, "validation_split": 0.3, "learning_rate": 0.003,
        "batch_size": 8, "chunk_size_ms": 500, "stride_ms": 250, "context_ms": 1000,
    }  # fmt: skip
    job = training_services.create_job(team, dataset, published, config, queue=False)
    assert training_tasks.train_job(str(job.id)) == "completed"
    return DetectorModel.objects.get(training_job=job)
