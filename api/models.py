"""API tokens, stored idempotent responses and rate-limit windows."""

from django.db import models

from clinic.models import StaffMember


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
