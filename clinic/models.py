import csv
import datetime
import io
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from clinic import validation
from portico.crypto import EncryptedTextField
from portico.languages import validate_language


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a time zone name such as America/New_York.") % {"value": repr(value)})


def validate_e164(value: str) -> None:
    if value and validation.normalize_phone(value) != value:
        raise ValidationError(_("Enter the phone number in E.164 form, like +15555550123."))


def validate_holidays(value) -> None:
    """A practice's holidays: a list of distinct ISO dates (YYYY-MM-DD), at most MAX_HOLIDAYS."""
    if not isinstance(value, list) or len(value) > MAX_HOLIDAYS:
        raise ValidationError(_("Enter at most %(limit)d holidays.") % {"limit": MAX_HOLIDAYS})
    try:
        days = [datetime.date.fromisoformat(day) for day in value]
    except (TypeError, ValueError):
        raise ValidationError(_("Enter each holiday as a date like 2026-12-25.")) from None
    if len(set(days)) != len(days):
        raise ValidationError(_("Each holiday once, please."))


MAX_HOLIDAYS = 200  # a few years of a practice's closed days


def default_invite_ttl_days() -> int:
    """A new practice's invitation lifetime: PORTICO_INVITE_TTL_DAYS (each practice then sets its own)."""
    return settings.PORTICO_INVITE_TTL_DAYS


def _between(low: int, high: int) -> list:
    return [MinValueValidator(low), MaxValueValidator(high)]


class Practice(models.Model):
    """A practice, with its portal-invitation settings (changed on the Settings page through
    access.actions.change_practice_settings, which records each change in the access history)."""

    class AutoInvite(models.TextChoices):
        OFF = "off", _("Off")
        BOOKED = "booked", _("When an appointment is booked")
        COMPLETED = "completed", _("After the patient's first completed appointment")

    class InviteBy(models.TextChoices):
        EMAIL = "email", _("Email")
        EMAIL_AND_TEXT = "email_and_text", _("Email and text")
        TEXT_WITHOUT_EMAIL = "text_without_email", _("Text when there is no email")

    REINVITE_DAYS = [(30, _("After 30 days")), (60, _("After 60 days")), (90, _("After 90 days"))]
    MAX_REINVITES = 5

    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="America/New_York", validators=[validate_time_zone])
    # Shown to patients whose invitation or access has ended, so they know how to reach the practice.
    phone = models.CharField(max_length=20, blank=True, validators=[validate_e164], help_text=_("E.164, e.g. +15555550123"))
    patient_contact_note = models.CharField(
        _("Sentence for patients"), max_length=200, blank=True,
        help_text=_("Shown with the phone number wherever patients are told to ask the practice, and in emails."))
    auto_invite = models.CharField(_("Invite automatically"), max_length=16, choices=AutoInvite.choices,
                                   default=AutoInvite.OFF)
    invite_by = models.CharField(
        _("Invite by"), max_length=24, choices=InviteBy.choices, default=InviteBy.EMAIL,
        help_text=_("A text goes only to a mobile number with the patient's consent; reminders and renewals follow."))
    reminder_days_before = models.PositiveSmallIntegerField(
        _("Reminder before expiry"), null=True, blank=True, default=2, validators=_between(1, 29),
        help_text=_("Days before a pending invitation expires; empty: no reminder."))
    reinvite_after_days = models.PositiveSmallIntegerField(
        _("Re-invite patients who did not accept"), null=True, blank=True, choices=REINVITE_DAYS,
        help_text=_("Days after the unanswered invitation was sent; empty: never."))
    reinvite_max = models.PositiveSmallIntegerField(_("Re-invites at most"), default=3,
                                                    validators=_between(1, MAX_REINVITES))
    minimum_age = models.PositiveSmallIntegerField(_("Minimum age for an invitation"), default=13,
                                                   validators=_between(0, 21))
    # Proxy access (access.Proxy): a guardian's default level by the child's age, and when it ends.
    proxy_limited_from_age = models.PositiveSmallIntegerField(
        _("Guardians' access is limited from age"), default=12, validators=_between(1, 17),
        help_text=_("Below it a parent or guardian sees what the patient would; from it, appointments and practice "
                    "contact only, unless staff record the teen's agreement to full access."))
    proxy_ends_at_age = models.PositiveSmallIntegerField(
        _("Guardians' access ends at age"), default=18, validators=_between(16, 21),
        help_text=_("On this birthday every parent's or guardian's access ends by itself."))
    invite_ttl_days = models.PositiveSmallIntegerField(_("Invitation lifetime (days)"), default=default_invite_ttl_days,
                                                       validators=_between(1, 30))
    renewal_days = models.PositiveSmallIntegerField(
        _("Patients may renew an expired invitation"), null=True, blank=True, default=90, validators=_between(1, 365),
        help_text=_("Up to this many days after it expired, by answering the identity check again; empty: never."))
    # The language of patients' emails and pages when the chart names none (portico.languages).
    default_language = models.CharField(_("Patients' language unless their chart says otherwise"), max_length=8,
                                        default="en", validators=[validate_language])
    # Days the practice is closed (ISO dates), skipped with weekends when counting the business days
    # of the electronic-access measure (access.business_days); changed on Settings, recorded.
    holidays = models.JSONField(_("Holidays"), default=list, blank=True, validators=[validate_holidays])
    worklist_bell = models.BooleanField(
        _("Tell doctors each morning how many visits are due for portal access"), default=False,
        help_text=_("A bell notification to each doctor with visits whose 4-business-day window closes that day."))
    # The practice's date the morning bell above last went out (access.actions.worklist), once a day.
    worklist_notified_on = models.DateField(null=True, blank=True, editable=False)
    # Hash of the newest access event: the anchor that lets verify_history notice a removed tail.
    history_head = models.CharField(max_length=64, blank=True, editable=False)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.reminder_days_before is not None and self.reminder_days_before >= (self.invite_ttl_days or 0):
            raise ValidationError({"reminder_days_before": _("The reminder must come before the invitation expires: "
                                                             "choose fewer days than its lifetime.")})
        # Proxy access (issue 21): a guardian's access is limited for some years before it ends.
        if (self.proxy_limited_from_age or 0) >= (self.proxy_ends_at_age or 0):
            raise ValidationError({"proxy_limited_from_age": _("Choose an age below the age guardians' access ends at.")})

    @cached_property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def phone_display(self) -> str:
        return validation.format_phone(self.phone)

    @property
    def holiday_dates(self) -> frozenset[datetime.date]:
        return frozenset(datetime.date.fromisoformat(day) for day in self.holidays)


class StaffMember(models.Model):
    """Ties a staff login to exactly one practice. Users without one are patients."""

    class Role(models.TextChoices):
        DOCTOR = "doctor", _("Doctor")
        STAFF = "staff", _("Staff")
        ADMIN = "admin", _("Practice admin")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="staff")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)
    # At most one email a day listing the notifications not yet in a digest (access.actions.send_digests).
    daily_digest = models.BooleanField(_("Email me a daily digest of my notifications"), default=False)
    last_digest_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = self.user.get_full_name() or self.user.get_username()
        return f"Dr. {self.user.last_name}" if self.role == self.Role.DOCTOR and self.user.last_name else name


class Patient(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="patients")
    chart_number = models.CharField(max_length=32)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True, max_length=validation.MAX_EMAIL_LENGTH)
    # Bound to the chart (portico.crypto): its practice and chart number, known before an import inserts it.
    ssn = EncryptedTextField(blank=True, verbose_name=_("social security number"), bound_to=("practice_id", "chart_number"))
    # Kept beside the encrypted SSN (set in save) so lists can show it masked and filter on "SSN on
    # file" without decrypting every row.
    ssn_last4 = models.CharField(max_length=4, blank=True, editable=False)
    date_of_birth = models.DateField(null=True, blank=True, validators=[validation.validate_date_of_birth])
    phone = models.CharField(max_length=20, blank=True, help_text=_("E.164, e.g. +15555550123"))
    # The number texts may go to (the only one), with its consent kept as a ledger (access.TextConsent).
    mobile_phone = models.CharField(_("Mobile number"), max_length=20, blank=True, validators=[validate_e164],
                                    help_text=_("E.164, e.g. +15555550123"))
    doctor = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="patients",
        limit_choices_to={"role": StaffMember.Role.DOCTOR},
    )
    # A code from settings.LANGUAGES, or "": the practice's default_language (portico.languages.of_patient).
    preferred_language = models.CharField(max_length=8, blank=True, validators=[validate_language])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "chart_number"], name="unique_chart_number_per_practice"),
        ]
        indexes = [
            models.Index(fields=["practice", "last_name", "first_name"], name="patient_name_idx"),
            models.Index(fields=["practice", "email"], name="patient_email_idx"),
            models.Index(fields=["practice", "phone"], name="patient_phone_idx"),
            models.Index(fields=["mobile_phone"], name="patient_mobile_idx"),
        ]
        ordering = ["last_name", "first_name", "id"]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.chart_number})"

    def save(self, *args, **kwargs):
        self.sync_ssn_last4()
        if kwargs.get("update_fields") is not None and "ssn" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "ssn_last4"}
        super().save(*args, **kwargs)

    def sync_ssn_last4(self) -> None:
        """save() calls this; bulk_create does not, so batch writers call it themselves."""
        self.ssn_last4 = self.ssn[-4:] if self.ssn else ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def language(self) -> str:
        """The language of this patient's emails and invitation pages (the chart's, else the practice's)."""
        return self.preferred_language or self.practice.default_language

    @property
    def masked_ssn(self) -> str:
        return f"***-**-{self.ssn_last4}" if self.ssn_last4 else ""

    @property
    def phone_display(self) -> str:
        return validation.format_phone(self.phone)

    @property
    def mobile_phone_display(self) -> str:
        return validation.format_phone(self.mobile_phone)


class Appointment(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CHECKED_IN = "checked_in", _("Checked in")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        NO_SHOW = "no_show", _("No-show")

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="appointments")
    doctor = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["practice", "starts_at"], name="appointment_start_idx"),
            # The reports' completed visits of a period (access.reports), read from the index alone.
            models.Index(fields=["practice", "starts_at", "doctor", "patient"], condition=models.Q(status="completed"),
                         name="appointment_completed_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="appointment_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} at {self.starts_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        # An appointment joins a practice's own patient and doctor, never another practice's.
        for field in ("patient", "doctor"):
            related = getattr(self, field, None) if getattr(self, f"{field}_id") else None
            if related is not None and related.practice_id != self.practice_id:
                raise ValidationError({field: _("This %(field)s belongs to another practice.") % {"field": field}})


class Notification(models.Model):
    """An in-app message for one staff member (the bell)."""

    recipient = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="notifications")
    patient = models.ForeignKey(Patient, null=True, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    # When a daily digest email listed it: each notification is in at most one digest.
    digested_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread_idx"),
            models.Index(fields=["recipient"], condition=models.Q(digested_at__isnull=True),
                         name="notification_undigested_idx"),
        ]

    def __str__(self) -> str:
        return self.text


class PatientImport(models.Model):
    """One file imported from the staff page: who, when, what it did, and the rows it refused (with
    the SSN masked), so staff can download those to fix them."""

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="imports")
    started_by = models.ForeignKey(StaffMember, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    file_name = models.CharField(max_length=200)
    imported = models.BooleanField(help_text=_("False when invalid rows stopped the whole file."))
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    rejected_csv = models.TextField(blank=True)
    # A large file is imported by the task worker (clinic.importing.start_background_import): the
    # page shows its progress until it is done. A file imported at once is DONE from the start.
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # Some chunks written, then its worker stopped (clinic.importing.stop_stalled_imports) or a chunk failed.
        STOPPED = "stopped", "Stopped part-way"

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DONE)
    steps_done = models.PositiveIntegerField(default=0)  # checking a row is a step, writing it another
    steps = models.PositiveIntegerField(default=0)  # 0: not started yet
    source = models.TextField(blank=True, help_text="The file, kept until the worker has imported it.")
    skip_invalid = models.BooleanField(default=False)
    failure = models.CharField(max_length=300, blank=True)  # why a background import read nothing
    # When the worker last took a step (null until it starts): an import whose steps stop for long lost
    # its worker, and is then marked STOPPED so the page stops waiting.
    progress_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"Import of {self.file_name} at {self.at:%Y-%m-%d %H:%M}"

    def rejected_rows(self) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.rejected_csv))) if self.rejected_csv else []
