"""Webhooks: subscriptions refuse unsafe URLs, events arrive signed from a worker exactly once per
event, failures are retried with back-off and given up after the window, and the log redelivers."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets import services as dataset_services
from relayweb import jobs, webhooks
from relayweb.models import Role, Webhook, WebhookDelivery
from tests import factories
from tests.conftest import ROOT, sign_in, start_cluster, stop, wait_for
from tests.local_http import ScriptedServer


@pytest.fixture
def receiver():
    made = []

    def make(*statuses):
        made.append(ScriptedServer(*statuses))
        made[-1].url += "/relay-hook"
        return made[-1]

    yield make
    for server in made:
        server.close()


def documented_verify():
    """The verification snippet of docs/webhooks.md, run as a receiver would paste it."""
    text = (ROOT / "docs" / "webhooks.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(code, scope)
    return scope["verify"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest",
            "http://localhost/hook", "http://[::1]/hook", "ftp://example.com/hook"],
)  # fmt: skip
def test_a_url_on_a_private_address_or_this_server_is_refused(api, url):
    response = api.post("/api/v1/webhooks", {"url": url, "events": ["audio.ready"]}, format="json")
    assert response.status_code == 422, response.json()
    assert response.json()["detail"][0]["loc"] == ["body", "url"]
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_the_secret_is_shown_once_and_only_admins_manage_webhooks(api, client_for, settings):
    settings.RELAY_WEBHOOK_ALLOW_PRIVATE = True
    created = api.post(
        "/api/v1/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["audio.ready"]}, format="json"
    )
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    listed = api.get("/api/v1/webhooks").json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]
    bad = api.post(
        "/api/v1/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["audio.eaten"]}, format="json"
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:2] == ["body", "events"]
    annotator = client_for(Role.ANNOTATOR)
    assert annotator.get("/api/v1/webhooks").status_code == 403
    assert annotator.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["audio.ready"]},
                          format="json").status_code == 403  # fmt: skip


@pytest.fixture
def hook_worker(transactional_db, settings, media_root):
    """The ingest cluster (it sends webhooks), allowed to reach a receiver on this machine, with
    a 1 s back-off and a 4 s retry window so retries and giving up happen within a test."""
    settings.RELAY_WEBHOOK_ALLOW_PRIVATE = True
    settings.RELAY_WEBHOOK_BACKOFF_S = 1
    process = start_cluster(
        settings, media_root, RELAY_WEBHOOK_ALLOW_PRIVATE="true", RELAY_WEBHOOK_BACKOFF_S="1",
        RELAY_WEBHOOK_RETRY_WINDOW_S="4",
    )  # fmt: skip
    yield process
    stop(process)


def test_an_event_arrives_signed_from_the_worker_and_only_once(hook_worker, team, receiver):
    r = receiver(204)
    hook, secret = webhooks.subscribe(team, r.url, ["audio.ready", "audio.failed"])
    dataset = factories.make_dataset(team)
    audio = dataset_services.upload_and_queue(dataset, SimpleUploadedFile("take1.wav", factories.wav_bytes()))
    wait_for(lambda: r.received, timeout=60)
    headers, body = r.received[0].headers, r.received[0].body
    assert documented_verify()(secret, headers["Relay-Signature"], body)
    assert not documented_verify()("whsec_someone-else", headers["Relay-Signature"], body)
    event = json.loads(body)
    assert event["event"] == headers["Relay-Event"] == "audio.ready"
    assert event["data"]["audio_id"] == str(audio.pk) and event["data"]["processing_status"] == "ready"
    # The same event emitted again (a retried task would) is not a second delivery.
    dataset_services.announce(audio.pk, "audio.ready")
    jobs.reap()
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.log[0]["status_code"] == 204
    assert len(r.received) == 1


def test_a_receiver_that_fails_twice_gets_three_attempts(hook_worker, team, receiver):
    r = receiver(500, 502, 200)
    hook, _ = webhooks.subscribe(team, r.url, ["training.completed"])
    webhooks.emit(team.pk, "training.completed", "training.completed:job-1", {"training_job_id": "job-1"})
    delivery = WebhookDelivery.objects.get(webhook=hook)

    def delivered():
        jobs.reap()  # the reaper's schedule queues due retries every minute; here, at once
        delivery.refresh_from_db()
        return delivery.status == "delivered"

    wait_for(delivered, timeout=60, interval=0.5)
    assert delivery.attempts == 3 and [a["status_code"] for a in delivery.log] == [500, 502, 200]
    assert len(r.received) == 3 and len({x.headers["Relay-Delivery"] for x in r.received}) == 1


def test_a_dead_receiver_is_given_up_after_the_window_and_can_be_redelivered(
    hook_worker, team, receiver, api
):
    r = receiver(503)
    hook, _ = webhooks.subscribe(team, r.url, ["inference.job.failed"])
    webhooks.emit(team.pk, "inference.job.failed", "inference.job.failed:j:1", {"inference_job_id": "j"})
    delivery = WebhookDelivery.objects.get(webhook=hook)

    def given_up():
        jobs.reap()
        delivery.refresh_from_db()
        return delivery.status == "failed"

    wait_for(given_up, timeout=60, interval=0.5)
    sent = len(r.received)
    assert sent == delivery.attempts >= 2 and delivery.last_status_code == 503
    jobs.reap()
    assert len(r.received) == sent  # given up: nothing more is sent

    r.steps = [200]
    log = api.get(f"/api/v1/webhooks/{hook.pk}/deliveries").json()
    assert log["items"][0]["status"] == "failed" and log["items"][0]["last_error"].startswith("HTTP 503")
    again = api.post(f"/api/v1/webhooks/{hook.pk}/deliveries/{delivery.pk}/redeliver")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    wait_for(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered", timeout=30)
    assert len(r.received) == sent + 1


@pytest.mark.browser
def test_an_admin_subscribes_in_the_browser_sees_the_secret_once_and_the_log(
    page, live_server, team, settings, receiver
):
    settings.RELAY_WEBHOOK_ALLOW_PRIVATE = True
    factories.make_user(team, "ada", Role.ADMIN)
    r = receiver(200)
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/settings/webhooks/")
    page.fill("input[name=url]", "http://10.0.0.8/hook")
    settings.RELAY_WEBHOOK_ALLOW_PRIVATE = False
    page.check("input[value='audio.ready']")
    page.click("#create-webhook")
    assert "private or local address" in page.inner_text("body") and not Webhook.objects.exists()
    settings.RELAY_WEBHOOK_ALLOW_PRIVATE = True
    page.fill("input[name=url]", r.url)
    page.check("input[value='audio.ready']")
    page.check("input[value='inference.job.completed']")
    page.click("#create-webhook")
    secret = page.inner_text("#new-secret-value")
    hook = Webhook.objects.get(team=team)
    assert secret == hook.secret and hook.events == ["audio.ready", "inference.job.completed"]
    page.goto(f"{live_server.url}/settings/webhooks/")
    assert secret not in page.content()  # shown once
    webhooks.emit(team.pk, "audio.ready", "audio.ready:x", {"audio_id": "x"})
    webhooks.deliver(str(WebhookDelivery.objects.get().pk))  # as the worker would
    page.click(f"text={r.url}")
    row = page.locator("#deliveries tbody tr").first
    assert row.get_attribute("data-status") == "delivered" and "HTTP 200" in row.inner_text()
    row.locator("button.redeliver").click()
    assert "queued to be sent again" in page.inner_text("body")
    assert WebhookDelivery.objects.get().status == "pending"
