"""Webhooks: a team subscribes URLs to events; each event is POSTed to them, signed, from a worker.

- **Emitting** (`emit`) happens inside the service function that changes the state, in its
  transaction: one delivery row per subscribed webhook, keyed by the event's identity, so an event
  emitted twice (a retried task, a settle that runs again) is delivered once. The send is queued on
  commit; a request never waits on a receiver.
- **Sending** (`deliver`, a task on the ingest queue) claims the row (pending → sending) in one
  conditional UPDATE, so two workers never send the same attempt. The body is the exact bytes that
  were signed: `Relay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the
  webhook's secret>` (docs/webhooks.md has a verification snippet). 2xx is delivered; anything else
  (or no answer within RELAY_WEBHOOK_TIMEOUT_S) is retried after RELAY_WEBHOOK_BACKOFF_S, doubling up
  to RELAY_WEBHOOK_MAX_BACKOFF_S, until RELAY_WEBHOOK_RETRY_WINDOW_S has passed; then it is given up.
  Redirects are not followed (a public URL must not bounce the request into a private network).
- **Retrying** is the reaper's sweeper (`send_due`, every minute): it queues due retries and puts
  back deliveries whose worker died mid-send. Delivery is at least once: a worker killed after the
  receiver answered sends again, so receivers dedupe on `Relay-Delivery`.
- **Where it may send**: http(s) only, and never to loopback, private, link-local or reserved
  addresses or to this server itself, unless RELAY_WEBHOOK_ALLOW_PRIVATE; checked when a webhook is
  saved and again before every send (the name may resolve elsewhere since).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from relayweb import jobs
from relayweb.errors import Unprocessable
from relayweb.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

log = logging.getLogger(__name__)

EVENT_NAMESPACE = uuid.UUID("1c2f6b8e-51a4-4f0e-9d0c-6a3c2f1b7e44")
SIGNATURE_HEADER = "Relay-Signature"
LOG_KEPT = 50  # attempts kept per delivery


class UnsafeUrl(Exception):
    """A webhook URL Relay will not send to; the message says why."""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Relay-Signature` header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


# Subscriptions -------------------------------------------------------------------------------------


def subscribe(team, url: str, events: list[str], description: str = "", user=None) -> tuple[Webhook, str]:
    """A new webhook and its secret (returned once: the caller shows it, nobody sees it again)."""
    checked_url(url)
    secret = new_secret()
    hook = Webhook.objects.create(
        team=team, url=url, events=known_events(events), description=description, secret=secret,
        created_by=user if getattr(user, "pk", None) else None,
    )  # fmt: skip
    return hook, secret


def update(hook: Webhook, changes: dict) -> Webhook:
    if "url" in changes:
        checked_url(changes["url"])
    if "events" in changes:
        changes["events"] = known_events(changes["events"])
    for field in ("url", "events", "description", "active"):
        if field in changes:
            setattr(hook, field, changes[field])
    hook.save()
    return hook


def known_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in WebhookEvent.values]
    if unknown or not events:
        raise Unprocessable(
            ["body", "events"],
            f"choose one or more of {', '.join(WebhookEvent.values)} (not {unknown or 'none'})",
        )
    return list(dict.fromkeys(events))


def checked_url(url: str) -> str:
    try:
        refuse_unsafe(url)
    except UnsafeUrl as exc:
        raise Unprocessable(["body", "url"], str(exc)) from exc
    return url


def refuse_unsafe(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("the URL must be http:// or https:// with a host")
    if settings.RELAY_WEBHOOK_ALLOW_PRIVATE:
        return
    host = parts.hostname.lower()
    own = {urlsplit(settings.RELAY_PUBLIC_URL).hostname or "", *settings.ALLOWED_HOSTS} - {"", "*"}
    if host in {h.lstrip(".").strip("[]").lower() for h in own}:
        raise UnsafeUrl(f"{host} is this Relay server: webhooks go to other services")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 443)}
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"{host} does not resolve") from exc
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        ip = getattr(ip, "ipv4_mapped", None) or ip
        if not ip.is_global:
            raise UnsafeUrl(
                f"{host} resolves to {ip}, a private or local address: refused unless the operator "
                "sets RELAY_WEBHOOK_ALLOW_PRIVATE=true"
            )


# Emitting ------------------------------------------------------------------------------------------


def emit(team_id, event: str, identity: str, data: dict) -> int:
    """Queue `event` for every active webhook of the team subscribed to it; returns how many.

    `identity` names this occurrence (e.g. `audio.ready:<id>`): the same identity twice is one
    delivery per webhook. Call it inside the transaction that changes the state."""
    hooks = [h for h in Webhook.objects.filter(team_id=team_id, active=True) if event in h.events]
    if not hooks:
        return 0
    event_id = uuid.uuid5(EVENT_NAMESPACE, identity)
    payload = {"id": str(event_id), "event": event, "created_at": timezone.now().isoformat(), "data": data}
    created = []
    for hook in hooks:
        try:
            with transaction.atomic():
                created.append(
                    WebhookDelivery.objects.create(
                        webhook=hook, event=event, event_id=event_id, payload=payload
                    )
                )
        except IntegrityError:
            continue  # already emitted: one delivery per event and webhook
    ids = [str(d.pk) for d in created]
    transaction.on_commit(lambda: [enqueue(pk) for pk in ids])
    return len(created)


def enqueue(delivery_id: str) -> None:
    from django_q.tasks import async_task

    async_task(
        "relayweb.webhooks.deliver", delivery_id, cluster=settings.RELAY_INGEST_QUEUE,
        task_name=f"webhook {delivery_id}",
    )  # fmt: skip


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send again now, with a fresh retry window (the delivery log's button)."""
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, window_started_at=now
    )
    transaction.on_commit(lambda: enqueue(str(delivery.pk)))
    delivery.refresh_from_db()
    return delivery


# Sending -------------------------------------------------------------------------------------------


def deliver(delivery_id: str) -> str:
    """The task: one attempt, if the delivery is due and nobody else is sending it."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(status=DeliveryStatus.SENDING, next_attempt_at=now)
    if not claimed:
        return "not due"
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    code, error, elapsed = attempt(delivery)
    record(delivery, code, error, elapsed)
    return "delivered" if error == "" else "failed"


def attempt(delivery: WebhookDelivery) -> tuple[int | None, str, float]:
    """POST it once: (status code or None, "" on success or why not, seconds)."""
    hook = delivery.webhook
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    started = time.monotonic()
    try:
        refuse_unsafe(hook.url)
        response = requests.post(
            hook.url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Relay-Webhooks/1",
                "Relay-Event": delivery.event,
                "Relay-Delivery": str(delivery.pk),
                SIGNATURE_HEADER: sign(hook.secret, int(time.time()), body),
            },
            timeout=settings.RELAY_WEBHOOK_TIMEOUT_S,
            allow_redirects=False,
        )
    except (requests.RequestException, UnsafeUrl) as exc:
        return None, jobs.reason(exc), time.monotonic() - started
    elapsed = time.monotonic() - started
    if 200 <= response.status_code < 300:
        return response.status_code, "", elapsed
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}".strip(), elapsed


def record(delivery: WebhookDelivery, code: int | None, error: str, elapsed: float) -> None:
    now = timezone.now()
    entry = {"at": now.isoformat(), "status_code": code, "error": error, "ms": round(elapsed * 1000)}
    fields = {
        "attempts": delivery.attempts + 1,
        "last_status_code": code,
        "last_error": error[:500],
        "log": [*delivery.log, entry][-LOG_KEPT:],
    }
    if not error:
        fields |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
    elif now >= delivery.window_started_at + timedelta(seconds=settings.RELAY_WEBHOOK_RETRY_WINDOW_S):
        fields |= {"status": DeliveryStatus.FAILED}
        log.warning(
            "webhook delivery %s given up after %d attempts: %s", delivery.pk, fields["attempts"], error
        )
    else:
        wait = min(
            settings.RELAY_WEBHOOK_MAX_BACKOFF_S, settings.RELAY_WEBHOOK_BACKOFF_S * 2**delivery.attempts
        )
        fields |= {"status": DeliveryStatus.PENDING, "next_attempt_at": now + timedelta(seconds=wait)}
    WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(**fields)


def send_due() -> int:
    """The sweeper: queue retries that are due, and put back sends whose worker died."""
    now = timezone.now()
    stuck = now - timedelta(seconds=settings.RELAY_WEBHOOK_TIMEOUT_S * 3 + settings.RELAY_JOB_STALE_S)
    WebhookDelivery.objects.filter(status=DeliveryStatus.SENDING, next_attempt_at__lt=stuck).update(
        status=DeliveryStatus.PENDING
    )
    due = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).values_list(
            "pk", flat=True
        )[:1000]
    )
    for pk in due:
        enqueue(str(pk))
    return len(due)


jobs.register_sweeper("webhook_retries", send_due)
