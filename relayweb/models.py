"""Teams, memberships and API keys (who may touch which objects), and the teams' webhooks."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    ANNOTATOR = "annotator"
    VIEWER = "viewer"


# Higher rank may do everything a lower rank may.
ROLE_RANK = {Role.VIEWER: 0, Role.ANNOTATOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


def role_at_least(role: str, required: str) -> bool:
    return ROLE_RANK[Role(role)] >= ROLE_RANK[Role(required)]


class Team(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    # Which heuristic over a file's clips gives its `verdict` (relayml.verdict.HEURISTICS); every
    # heuristic's answer is in `verdicts` anyway.
    verdict_heuristic = models.CharField(max_length=32, default="duration_weighted")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership")]
        ordering = ["team__name"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


KEY_PREFIX = "rly_"


def hash_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ADMIN)
    # The first characters of the key, kept in clear so people can tell keys apart.
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.team}, {self.role})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, team: Team, role: str, name: str = "", user=None) -> tuple[ApiKey, str]:
        """Create a key and return it with the raw secret, which is never stored."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            team=team,
            role=role,
            name=name,
            prefix=raw[:12],
            key_hash=hash_key(raw),
            created_by=user,
        )
        return key, raw

    @classmethod
    def find(cls, raw_key: str) -> ApiKey | None:
        found = cls.objects.active().select_related("team", "created_by").filter(key_hash=hash_key(raw_key))
        return found.first()

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def touch(self) -> None:
        """Record use, at most once a minute so busy keys do not write on every request."""
        now = timezone.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


class WebhookEvent(models.TextChoices):
    AUDIO_READY = "audio.ready"
    AUDIO_FAILED = "audio.failed"
    TRAINING_COMPLETED = "training.completed"
    TRAINING_FAILED = "training.failed"
    INFERENCE_FILE_COMPLETED = "inference.file.completed"
    INFERENCE_FILE_FAILED = "inference.file.failed"
    INFERENCE_JOB_COMPLETED = "inference.job.completed"
    INFERENCE_JOB_FAILED = "inference.job.failed"
    CLASSIFICATION_DONE = "classification.done"


class Webhook(models.Model):
    """A team's subscription: events POSTed to a URL, signed with its secret (relayweb/webhooks.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True, default="")
    # Kept to sign each delivery (an HMAC needs the secret itself); shown only when created.
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event for one webhook: sent until the receiver answers 2xx or the retry window ends."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50, choices=WebhookEvent.choices)
    # The event's identity: the same event emitted twice (a retried task) is delivered once.
    event_id = models.UUIDField()
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Retries continue until this plus RELAY_WEBHOOK_RETRY_WINDOW_S (a redelivery restarts it).
    window_started_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    # Every attempt: when, the status code (or the error), how long it took.
    log = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["webhook", "event_id"], name="one_delivery_per_event")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id} ({self.status})"


class Worker(models.Model):
    """A running `manage.py qcluster` (one queue's cluster on one machine), beating while it lives:
    the health check and /metrics list each one's last heartbeat (relayweb/workers.py)."""

    name = models.CharField(max_length=200, unique=True)  # host:pid
    host = models.CharField(max_length=200)
    pid = models.IntegerField()
    queue = models.CharField(max_length=50)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["queue", "name"]

    def __str__(self) -> str:
        return f"{self.queue} worker {self.name}"
