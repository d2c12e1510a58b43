from django.db import models
from django.utils.translation import gettext_lazy as _

from portico.crypto import EncryptedTextField
from portico.outbox import OutboxRow


class Message(OutboxRow):
    """The outbox: one row per email, written in the same transaction as the change that causes it.

    The body is rendered at delivery from `kind` (which names its templates) and `context`. A link
    carrying a secret (the invitation token) is kept encrypted in `secret_link` and wiped once the
    message is sent or given up. What the rest of Portico needs to know about a message is in typed
    columns, never in `context`: its `kind`, and `invitation_id` for the mail carrying an invitation's
    link (see mail.signals: access decides from these which mail is no longer needed and records outcomes).
    """

    class Kind(models.TextChoices):
        """Every email Portico sends, one function each in mail.messages; the value names the templates
        (mail/<value>-subject.txt, -body.txt, -body.html)."""

        INVITATION = "invitation", _("Invitation")
        REMINDER = "reminder", _("Reminder before expiry")  # the invitation's link, reissued
        CONNECTED = "connected", _("Connected confirmation")
        ACCESS_REVOKED = "access-revoked", _("Access revoked")
        PASSWORD_RESET = "password-reset", _("Password reset")
        DIGEST = "digest", _("Staff daily digest")
        REQUEST_DECLINED = "request-declined", _("Access request declined")
        REQUEST_LAPSED = "request-lapsed", _("Access request lapsed")
        # A code confirming an address before a portal account exists (its secret_link holds the code).
        EMAIL_CODE = "email-code", _("Email confirmation code")
        # Proxy access (issue 21), the proxy's side: a caregiver's invitation link (the patient invited
        # them; its secret_link holds the link) and the confirmation once a proxy has accepted.
        CAREGIVER_INVITATION = "caregiver-invitation", _("Caregiver invitation")
        PROXY_CONNECTED = "proxy-connected", _("Proxy access confirmed")
        # A parent's or guardian's access (access.Proxy): the link, its reminder, the notice before the
        # patient comes of age and the day it ends. About the proxy's own invitation: invitation_id stays null.
        PROXY_INVITATION = "proxy-invitation", _("Parent or guardian invitation")
        PROXY_REMINDER = "proxy-reminder", _("Parent or guardian reminder before expiry")
        PROXY_ENDING = "proxy-ending", _("Parent or guardian access ends soon")
        PROXY_ENDED = "proxy-ended", _("Parent or guardian access ended")
        # Staff ended a proxy's active access (not when it ends at the patient's end age: PROXY_ENDED).
        PROXY_REVOKED = "proxy-revoked", _("Proxy access revoked")
        # To the patient: the caregiver they invited has accepted (their name, the level).
        CAREGIVER_ACCEPTED = "caregiver-accepted", _("Caregiver accepted")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        # Not sent because what it was about ended first (an invitation no longer pending): see
        # mail.signals.before_send.
        SKIPPED = "skipped", _("Not sent (no longer needed)")

    kind = models.CharField(max_length=32, choices=Kind.choices)
    # The invitation whose link this message carries (Kind.INVITATION and Kind.REMINDER), else null.
    # An id, not a ForeignKey: mail's schema names no table of access's (mail imports only portico).
    invitation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    to = models.EmailField()
    # One message per (kind, subject): a retried or duplicated enqueue can never mail twice.
    dedupe_key = models.CharField(max_length=100, unique=True)
    context = models.JSONField(default=dict)
    secret_link = EncryptedTextField(blank=True, bound_to=("dedupe_key",))  # portico.crypto: known before a bulk insert
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # attempts, next_attempt_at and the lease (claimed_by, claimed_at; PORTICO_MAIL_LEASE_SECONDS): OutboxRow
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="message_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind} message {self.pk} ({self.status})"
