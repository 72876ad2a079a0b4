"""The one job lifecycle (relayweb.jobs): claims, heartbeats, the reaper, requeue once, sweepers.

The killed-process versions of these, with real django-q2 clusters, are in test_killed_workers.py.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from datasets import services, tasks, uploads
from datasets.models import AudioFile
from inference import services as inference_services
from inference.models import InferenceFile
from relayweb import jobs, storage
from tests import factories
from tests.conftest import upload
from tests.test_audio_api import ask_upload_url
from tests.training_data import trainable_dataset
from training import services as training_services
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


def silence(model, pk, seconds: int = 3600) -> None:
    """The worker holding this row stopped beating `seconds` ago."""
    model.objects.filter(pk=pk).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def queued_ingest_tasks(audio_id) -> int:
    return sum(1 for m in OrmQ.objects.all() if m.task.get("args") == (str(audio_id),))


def test_a_queued_file_is_claimed_by_one_task_only(dataset):
    audio = upload(dataset, "a.wav", factories.wav_bytes())
    assert services.claim_ingest(audio.id) == 1
    assert services.claim_ingest(audio.id) is None
    # A duplicate task (a redelivered message, a requeue racing a slow worker) does nothing.
    assert tasks.ingest_audio(str(audio.id)).startswith("nothing to do")
    audio.refresh_from_db()
    assert audio.processing_status == "normalizing" and audio.attempts == 1 and audio.heartbeat_at


def test_the_reaper_requeues_a_silent_file_once_then_fails_it_with_a_reason(
    dataset, django_capture_on_commit_callbacks
):
    audio = upload(dataset, "a.wav", factories.wav_bytes())
    assert services.claim_ingest(audio.id) == 1
    silence(AudioFile, audio.id)
    OrmQ.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.reap()["ingest_requeued"] == 1
    audio.refresh_from_db()
    assert audio.processing_status == "pending" and audio.heartbeat_at is None
    assert queued_ingest_tasks(audio.id) == 1  # back in the queue: a worker will pick it up

    assert services.claim_ingest(audio.id) == 2  # the next worker takes it, and dies too
    silence(AudioFile, audio.id)
    reaped = jobs.reap()
    assert reaped["ingest_requeued"] == 0 and reaped["ingest_failed"] == 1
    audio.refresh_from_db()
    assert audio.processing_status == "failed"
    assert "stopped responding 2 times" in audio.error_message
    assert "Traceback" not in audio.error_message


def test_a_queued_file_whose_task_was_lost_is_sent_again_once_its_cluster_has_nothing_queued(
    dataset, django_capture_on_commit_callbacks
):
    from django_q.tasks import async_task

    # Committed as queued, but its task never reached the broker (the on-commit enqueue never ran,
    # as when the web process dies right after the commit).
    audio = upload(dataset, "a.wav", factories.wav_bytes())
    OrmQ.objects.all().delete()
    assert jobs.reap()["ingest_resent"] == 0  # not waiting long enough yet to be called lost
    AudioFile.objects.filter(pk=audio.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    async_task("math.floor", 1.5)  # another task still queued: this one may only be late
    assert jobs.reap()["ingest_resent"] == 0 and queued_ingest_tasks(audio.id) == 0
    OrmQ.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.reap()["ingest_resent"] == 1
    assert queued_ingest_tasks(audio.id) == 1
    assert tasks.ingest_audio(str(audio.id)).startswith("ready")
    audio.refresh_from_db()
    assert audio.processing_status == "ready"


def test_a_worker_that_beats_is_never_reaped(dataset):
    audio = upload(dataset, "a.wav", factories.wav_bytes())
    services.claim_ingest(audio.id)
    silence(AudioFile, audio.id, seconds=5)  # within RELAY_JOB_STALE_S
    assert jobs.reap()["ingest_requeued"] == 0
    assert AudioFile.objects.get(pk=audio.id).processing_status == "normalizing"


def test_a_worker_presumed_dead_cannot_overwrite_its_successor(dataset):
    audio = upload(dataset, "a.wav", factories.wav_bytes())
    first = services.claim_ingest(audio.id)
    silence(AudioFile, audio.id)
    jobs.reap()
    second = services.claim_ingest(audio.id)
    assert (first, second) == (1, 2)
    assert services.record_ready(audio.id, first) is False  # the old worker woke up: ignored
    assert AudioFile.objects.get(pk=audio.id).processing_status == "normalizing"
    assert services.record_ready(audio.id, second) is True
    assert AudioFile.objects.get(pk=audio.id).processing_status == "ready"


def test_the_heartbeat_thread_keeps_a_long_task_alive(transactional_db, settings, media_root):
    settings.RELAY_HEARTBEAT_S, settings.RELAY_JOB_STALE_S = 1, 3
    dataset = factories.make_dataset(factories.make_team())
    audio = upload(dataset, "a.wav", factories.wav_bytes())
    services.claim_ingest(audio.id)
    with jobs.heartbeat(services.INGEST, [audio.id]):
        time.sleep(4.5)  # longer than the stale limit, without a word from the work itself
        assert jobs.reap()["ingest_requeued"] == 0
    time.sleep(3.5)  # the block ended: nobody beats any more
    assert jobs.reap()["ingest_requeued"] == 1


def test_an_ingest_failure_keeps_the_original_and_removes_half_written_files(dataset, settings):
    settings.RELAY_MAX_AUDIO_DURATION_S = 1
    audio = upload(dataset, "long.wav", factories.wav_bytes())
    assert tasks.ingest_audio(str(audio.id)) == "failed"
    audio.refresh_from_db()
    assert audio.error_message.startswith("the file is ")
    assert audio.error_message.endswith("long; the limit is 1.0 s")
    assert storage.names(storage.audio_prefix(audio)) == ["original"]


class TestTraining:
    def test_a_silent_training_job_is_requeued_once_then_failed(self, team, settings):
        settings.RELAY_MIN_TRAINING_AUDIO_S = 5
        dataset, published = trainable_dataset(team, clips=3)
        config = {"artifact_types": ["glitch"], "epochs": 1}
        job = training_services.create_job(team, dataset, published, config, queue=False)
        assert training_services.start(job.id, "cpu").attempts == 1
        silence(TrainingJob, job.id)
        assert jobs.reap()["training_requeued"] == 1
        assert TrainingJob.objects.get(pk=job.id).status == "queued"
        assert training_services.start(job.id, "cpu").attempts == 2
        silence(TrainingJob, job.id)
        assert jobs.reap()["training_failed"] == 1
        job.refresh_from_db()
        assert job.status == "failed" and "stopped responding 2 times" in job.error_message

    def test_a_cancelled_job_is_never_claimed(self, team, settings):
        settings.RELAY_MIN_TRAINING_AUDIO_S = 5
        dataset, published = trainable_dataset(team, clips=3)
        config = {"artifact_types": ["glitch"]}
        job = training_services.create_job(team, dataset, published, config, queue=False)
        training_services.cancel(job)
        assert training_services.start(job.id, "cpu") is None


class TestUploadsNobodyFinished:
    def test_an_unused_audio_upload_url_never_blocks_training_and_expires(self, api, team, settings):
        settings.RELAY_MIN_TRAINING_AUDIO_S = 5
        dataset, published = trainable_dataset(team, clips=3)
        ticket = ask_upload_url(api, dataset, factories.wav_bytes()).json()
        training_services.check_prerequisites(dataset, published, {"artifact_types": ["glitch"]})  # no 409
        assert jobs.reap()["expired_audio_uploads"] == 0  # not expired yet
        expired = timezone.now() - timedelta(seconds=settings.RELAY_UPLOAD_URL_EXPIRES + 120)
        AudioFile.objects.filter(pk=ticket["audio_id"]).update(created_at=expired)
        assert jobs.reap()["expired_audio_uploads"] == 1
        assert not AudioFile.objects.filter(pk=ticket["audio_id"]).exists()
        assert dataset.audio_files.count() == 3

    def test_an_unused_inference_upload_url_fails_with_a_reason(self, team, settings, media_root):
        from tests.training_data import trained_model

        model = trained_model(team, settings, epochs=1)
        job = inference_services.create_job(team, model, {"threshold": 0.5})
        f = inference_services.create_file(job, "never.wav", "audio/wav", 1000)
        InferenceFile.objects.filter(pk=f.pk).update(created_at=timezone.now() - timedelta(days=1))
        assert jobs.reap()["expired_inference_uploads"] == 1
        f.refresh_from_db()
        assert f.status == "failed" and f.error_message == "never uploaded: its upload URL expired"
        job.refresh_from_db()
        assert job.status == "failed"

    def test_stale_temporary_upload_files_are_removed_and_fresh_ones_kept(self, settings, tmp_path):
        settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
        stale, fresh = tmp_path / "tmpa.upload.wav", tmp_path / "tmpb.upload.wav"
        stale.write_bytes(b"x" * 1000)
        fresh.write_bytes(b"y" * 1000)
        old = time.time() - settings.RELAY_TEMP_FILE_MAX_AGE_S - 60
        os.utime(stale, (old, old))
        assert uploads.remove_stale_temp_files() == 1
        assert not stale.exists() and fresh.exists()


def test_the_reaper_runs_every_minute_on_the_ingest_cluster():
    schedule = Schedule.objects.get(name=jobs.REAPER_SCHEDULE)
    assert schedule.func == "relayweb.jobs.reap"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert schedule.cluster is None  # the default (ingest) cluster runs schedules without a cluster


def test_the_reap_command_reports_what_it_did(capsys):
    from django.core.management import call_command

    call_command("relay_reap")
    assert "ingest_requeued: 0" in capsys.readouterr().out


def test_a_failed_task_is_reported_in_one_line_not_a_traceback(dataset):
    from django_q.models import Task

    audio = upload(dataset, "a.wav", factories.wav_bytes())
    trace = 'Traceback (most recent call last):\n  File "x.py", line 1\nMemoryError: out of memory'
    tasks.ingest_finished(Task(args=(str(audio.id),), success=False, result=trace))
    audio.refresh_from_db()
    assert audio.error_message == "processing stopped unexpectedly: MemoryError: out of memory"
