from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portico.crypto import EncryptedTextField
from portico.outbox import OutboxRow


class TextMessage(OutboxRow):
    """The text outbox: one row per text, written in the same transaction as the change that causes it,
    sent by sms.delivery through the provider's Messages API, its fate told by the provider's status
    callbacks (sms.callbacks). Like mail.Message, it names what it is about by plain ids (sms imports
    only portico); the body carries the invitation link, so it is kept encrypted and wiped once the
    provider has taken the text or it is given up."""

    class Kind(models.TextChoices):
        INVITATION = "invitation", _("Invitation")
        REMINDER = "reminder", _("Reminder before expiry")
        OPTED_OUT = "opted-out", _("Opt-out confirmation")
        OPTED_IN = "opted-in", _("Opt-in confirmation")
        HELP = "help", _("Help reply")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        ACCEPTED = "accepted", _("Accepted by the provider")  # it has a provider sid: never sent again
        SENT = "sent", _("Sent to the carrier")
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Not delivered")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not sent (no longer allowed or needed)")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    practice_id = models.BigIntegerField(db_index=True)
    # The invitation whose link it carries (INVITATION and REMINDER), else null: an id, like mail's.
    invitation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    to = models.CharField(max_length=20, help_text="E.164")
    # One text per (kind, subject): a retried or duplicated enqueue can never text twice.
    dedupe_key = models.CharField(max_length=100, unique=True)
    # Bound to dedupe_key (portico.crypto), as mail's secret_link: known before the bulk insert.
    body = EncryptedTextField(blank=True, bound_to=("dedupe_key",))
    segments = models.PositiveSmallIntegerField(default=1)
    # The practice's time zone for a text the practice starts (invitation, reminder): its tries, the
    # first and every retry, wait out the quiet hours there (sms.quiet_hours). Empty for a reply.
    quiet_hours_zone = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # attempts, next_attempt_at and the lease (claimed_by, claimed_at): OutboxRow
    provider_sid = models.CharField(max_length=64, null=True, blank=True, unique=True)
    error_code = models.CharField(max_length=16, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, help_text="Delivered, undelivered or failed.")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="text_due_idx"),
            # The caps count a number's texts of the last week.
            models.Index(fields=["practice_id", "to", "created_at"], name="text_number_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} text {self.pk} ({self.status})"


# Statuses after which nothing more happens to a text.
FINAL = (TextMessage.Status.DELIVERED, TextMessage.Status.UNDELIVERED, TextMessage.Status.FAILED,
         TextMessage.Status.SKIPPED)
# Texts that count against a number's caps: every one not given up before it went out.
COUNTED = ~Q(status__in=[TextMessage.Status.SKIPPED, TextMessage.Status.FAILED]) | Q(provider_sid__isnull=False)


class EarlyStatus(models.Model):
    """A status callback that came before the worker recorded the provider's sid of its text (the
    provider may call back while the worker is still between the provider's answer and its commit).
    Kept once per (sid, status) and applied as soon as a text with that sid is recorded
    (sms.callbacks.apply_early_statuses), then deleted."""

    provider_sid = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    error_code = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider_sid", "status"], name="early_status_once")]

    def __str__(self) -> str:
        return f"Early {self.status} for {self.provider_sid}"


class InboundText(models.Model):
    """A text a patient sent to one of our senders, as the provider reported it. Kept once per
    provider sid (a repeated callback changes nothing); the body only as far as needed to read it."""

    provider_sid = models.CharField(max_length=64, unique=True)
    from_number = models.CharField(max_length=20)
    to_number = models.CharField(max_length=20)
    body = models.CharField(max_length=160, blank=True)
    received_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Inbound text {self.provider_sid}"
