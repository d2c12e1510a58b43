"""API tokens, stored idempotent responses, rate-limit windows, and webhook endpoints with their outbox."""

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from clinic.models import Practice, StaffMember
from portico.crypto import EncryptedTextField
from portico.outbox import OutboxRow


class ApiToken(models.Model):
    """A staff member's key to the API: every request made with it acts as that staff member. Only a
    purpose-bound SHA-256 of the token is kept; `prefix` (its first characters) lets people tell
    tokens apart on the settings page."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotentRequest(models.Model):
    """The first response to a POST/PATCH/DELETE sent with an Idempotency-Key, replayed for the same
    key (and refused for the same key with another request) for KEEP_FOR (api.guard)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and body.")
    created_at = models.DateTimeField()
    # Empty until the first request finishes: a second one meanwhile is told the key is in use.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(blank=True, default=b"")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="one_response_per_idempotency_key")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_age_idx")]

    def __str__(self) -> str:
        return f"Idempotency-Key {self.key} ({self.status_code or 'in progress'})"


class RateWindow(models.Model):
    """Requests one token made in one fixed window (api.guard)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    window = models.BigIntegerField(help_text="Window start, in seconds since the epoch.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "window"], name="one_count_per_rate_window")]

    def __str__(self) -> str:
        return f"{self.count} request(s) from {self.window}"


class WebhookEndpoint(models.Model):
    """A URL of a practice's own system that Portico POSTs portal-access events to (api.webhooks).
    The secret signs each delivery; it is kept encrypted, shown once, and can be rotated."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = EncryptedTextField()
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    def save(self, *args, **kwargs):
        """The secret is bound to the primary key (portico.crypto), known only once the row is inserted:
        a new endpoint is inserted without it, then sealed, in one transaction."""
        if not (self._state.adding and self.pk is None and self.secret):
            return super().save(*args, **kwargs)
        secret, self.secret = self.secret, ""
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.secret = secret
            super().save(update_fields=["secret"])
        return None


class WebhookDelivery(OutboxRow):
    """The webhook outbox: one row per (event, endpoint), written in the transaction that records the
    access event, sent by the worker (api.webhooks.deliver_due) with retries and a lease."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The event id the receiver de-duplicates on: the same across retries and across endpoints.
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # attempts, next_attempt_at and the lease (claimed_by, claimed_at): OutboxRow
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="one_delivery_per_event")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"
