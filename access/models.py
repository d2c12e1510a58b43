from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from clinic.models import Appointment, Patient, Practice, StaffMember
from portico.languages import validate_language


class Channel(models.TextChoices):
    CHART = "chart", _("Patient chart")
    APPOINTMENT = "appointment", _("Appointment window")
    BULK = "bulk", _("Bulk")
    AUTOMATIC = "automatic", _("Automatic")
    API = "api", _("API")
    PORTAL = "portal", _("Patient portal")
    SYSTEM = "system", _("System")
    RENEWAL = "renewal", _("Renewed by the patient")
    REQUEST = "request", _("Access request")
    PRINT = "print", _("Printed")  # handed over at the front desk: access.actions.printing
    TEXT = "text", _("Text message")


class Invitation(models.Model):
    """One invitation, emailed or printed. Only hashes of its secrets are kept (see access.tokens): the
    link's token, and a printed invitation's activation code, either of which leads to it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")
        LOCKED = "locked", _("Locked")

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="invitations")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # A printed invitation's activation code (tokens.hash_code, ACTIVATION_CODE); null if none was printed.
    code_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    email = models.EmailField(blank=True, help_text=(
        "The address on file when it was sent; the only one it goes to. Empty for a printed invitation to a "
        "patient without one, until the patient confirms an address when creating the account."))
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    sent_by = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    failed_checks = models.PositiveSmallIntegerField(default=0)
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    identity_proof_hash = models.CharField(max_length=64, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it stopped being pending.")
    # The reminder before expiry went out (its link reissued): at most one per invitation.
    reminded_at = models.DateTimeField(null=True, blank=True)
    # 0: sent by staff, a bulk job or automatically; k: the k-th re-invite after invitations went unanswered.
    reinvite_number = models.PositiveSmallIntegerField(default=0)
    # The bulk job that sent it (access.actions.jobs), if one did: a job's invited patients are its invitations.
    job = models.ForeignKey("InvitationJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations",
                            db_index=False)

    class Meta:
        constraints = [
            # Two staff clicking at once get one invitation and one refusal.
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="pending"), name="one_pending_invitation_per_patient"
            ),
        ]
        indexes = [
            # Partial: most invitations are not a job's, and a bulk insert should not pay for them.
            models.Index(fields=["job"], condition=Q(job__isnull=False), name="invitation_job_idx"),
            models.Index(fields=["status", "expires_at"], name="invitation_expiry_idx"),
            models.Index(fields=["patient", "-sent_at"], name="invitation_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"Invitation {self.pk} ({self.status})"


class Connection(models.Model):
    """A patient's portal account connected to a practice's patient record."""

    class EndReason(models.TextChoices):
        REVOKED = "revoked", _("Revoked by the practice")
        DISCONNECTED = "disconnected", _("Disconnected by the patient")

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="connections")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="connections")
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections")
    invitation = models.OneToOneField(Invitation, on_delete=models.PROTECT, related_name="connection")
    connected_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=Q(ended_at__isnull=True), name="one_live_connection_per_patient"
            ),
        ]
        indexes = [models.Index(fields=["account", "ended_at"], name="connection_account_idx")]

    def __str__(self) -> str:
        return f"Connection {self.pk} ({'ended' if self.ended_at else 'live'})"


class VisitAccess(models.Model):
    """The Reports' electronic-access measure (PI_PEA_1) worked out ahead, one row per completed visit:
    its window's deadline, whether the patient had access in time, and the patient's details the
    missed list needs, so a year's report is a read of one index (docs/performance.md, "Reports").
    Written only by access.actions.visit_access, which every change to those facts calls in its own
    transaction (completing a visit, an invitation sent, a connection made, a link or connection
    closed, a patient's details, the practice's holidays); `rebuild` works every row out again from
    the facts and a test checks the two agree."""

    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, primary_key=True, related_name="+")
    # Copies of the appointment's and the patient's columns (kept with them): the report joins nothing.
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)
    doctor = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="+", db_index=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+", db_index=False)
    starts_at = models.DateTimeField()
    # The midnight after the window's last day (access.reports.deadline_ranges), in UTC.
    deadline = models.DateTimeField()
    # A working invitation link or a live connection at some moment in [starts_at, deadline).
    timely = models.BooleanField()
    last_name = models.CharField(max_length=100)
    first_name = models.CharField(max_length=100)
    has_email = models.BooleanField()
    has_identity = models.BooleanField(help_text="An SSN, or a date of birth and a phone, on file.")
    date_of_birth = models.DateField(null=True)
    # Chained along the visits of one patient with this clinician (a "pair"), ordered by start then
    # appointment id: the next visit's start (NULL: the last), and the latest start of a timely visit
    # up to this one (NULL: none). A report counts a pair at its last visit in the period (next start
    # NULL or after the period), in the numerator when that latest timely start is in the period.
    next_starts_at = models.DateTimeField(null=True)
    last_timely_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            # The measure's counts: per clinician, the period's visits, everything read from the index.
            models.Index(fields=["practice", "doctor", "starts_at", "next_starts_at", "last_timely_at", "deadline",
                                 "has_email", "has_identity", "date_of_birth"], name="visit_access_period_idx"),
            # The missed list: each clinician's patients in name order, read from the index, stopping
            # after the first rows wanted instead of sorting every missed patient.
            models.Index(fields=["practice", "doctor", "last_name", "first_name", "patient", "starts_at",
                                 "next_starts_at", "last_timely_at", "deadline", "has_email", "has_identity",
                                 "date_of_birth"], name="visit_access_names_idx"),
            # The actions' refreshes: a patient's visits whose window is open.
            models.Index(fields=["patient", "deadline"], name="visit_access_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"Visit {self.appointment_id} ({'timely' if self.timely else 'not timely'})"


class AccessEvent(models.Model):
    """Append-only access history. Each row is written with a seal of its content, then chained:
    given its place in the practice's chain (`sequence`) and sealed over its content and the previous
    row's seal, with a key kept outside the database (access.history), so editing or removing a row
    is detectable (`manage.py verify_history`)."""

    class Action(models.TextChoices):
        INVITATION_SENT = "invitation.sent", _("Invitation sent")
        INVITATION_REVOKED = "invitation.revoked", _("Invitation revoked")
        INVITATION_EXPIRED = "invitation.expired", _("Invitation expired")
        INVITATION_LOCKED = "invitation.locked", _("Invitation locked")
        LINK_REFUSED = "invitation.link_refused", _("Refused a link that can no longer be used")
        LINK_REISSUED = "invitation.link_reissued", _("Invitation link reissued")
        INVITATION_RENEWED = "invitation.renewed", _("Renewed by the patient")
        INVITATION_PRINTED = "invitation.printed", _("Invitation printed with an activation code")
        EMAIL_CONFIRMED = "email.confirmed", _("Email address confirmed with a code")
        REQUEST_RECEIVED = "request.received", _("Portal access requested")
        REQUEST_APPROVED = "request.approved", _("Access request approved")
        REQUEST_DECLINED = "request.declined", _("Access request declined")
        REQUEST_LAPSED = "request.lapsed", _("Access request lapsed unanswered")
        EMAIL_SENT = "email.sent", _("Email delivered")
        EMAIL_FAILED = "email.failed", _("Email delivery failed")
        EMAIL_SKIPPED = "email.skipped", _("Email not sent: the invitation was no longer pending")
        IDENTITY_FAILED = "identity.failed", _("Identity check failed")
        IDENTITY_PASSED = "identity.passed", _("Identity check passed")
        ACCOUNT_CREATED = "account.created", _("Portal account created")
        ACCESS_GRANTED = "access.granted", _("Invitation accepted, access granted")
        ACCESS_REVOKED = "access.revoked", _("Access revoked")
        ACCESS_DISCONNECTED = "access.disconnected", _("Patient disconnected")
        PASSWORD_RESET_REQUESTED = "account.password_reset_requested", _("Password reset email requested")
        PASSWORD_CHANGED = "account.password_changed", _("Portal password changed")
        FOREIGN_ID = "security.foreign_id", _("Refused another practice's record")
        SETTINGS_CHANGED = "practice.settings_changed", _("Practice setting changed")
        STAFF_SIGNED_IN = "staff.signed_in", _("Staff signed in")
        STAFF_SIGNED_OUT = "staff.signed_out", _("Staff signed out")
        TEXT_CONSENT_GIVEN = "text.consent_given", _("Consent to texts given")
        TEXT_CONSENT_WITHDRAWN = "text.consent_withdrawn", _("Consent to texts withdrawn")
        TEXT_QUEUED = "text.queued", _("Invitation text queued")
        TEXT_DELIVERED = "text.delivered", _("Text delivered")
        TEXT_FAILED = "text.failed", _("Text could not be delivered")
        TEXT_NOT_SENT = "text.not_sent", _("Text not sent")
        PROXY_INVITED = "proxy.invited", _("Proxy invited")
        PROXY_ACCEPTED = "proxy.accepted", _("Proxy access accepted")
        PROXY_REVOKED = "proxy.revoked", _("Proxy access revoked")
        PROXY_ENDED = "proxy.ended", _("Proxy access ended")
        PROXY_LEVEL_CHANGED = "proxy.level_changed", _("Proxy access level changed")
        PROXY_SIGNED_IN = "proxy.signed_in", _("Proxy signed in for the patient")
        PROXY_LINK_EXPIRED = "proxy.link_expired", _("Parent or guardian invitation expired")
        PROXY_LINK_REISSUED = "proxy.link_reissued", _("Parent or guardian link reissued for a reminder")
        PROXY_ENDING_NOTICE = "proxy.ending_notice", _("Parent or guardian told their access ends soon")

    class ActorKind(models.TextChoices):
        STAFF = "staff", _("Staff")
        PATIENT = "patient", _("Patient")
        SYSTEM = "system", _("System")

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="access_events")
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="access_events")
    invitation = models.ForeignKey(Invitation, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    # The proxy grant an event is about or acted through ("Jordan Rivera (mother) signed in for Alex
    # Rivera": the actor is the proxy's account, `patient` the person acted for). Sealed when set.
    proxy = models.ForeignKey("Proxy", null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_role = models.CharField(max_length=16, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    reason = models.CharField(max_length=200, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # Place in the practice's chain; null until sealed (access.history.seal).
    sequence = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True)
    # Which of PORTICO_HISTORY_KEYS sealed `hash` (HMAC-SHA256), so keys can be rotated.
    key_id = models.CharField(max_length=16, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-at", "-id"], name="event_patient_idx"),
            # Reports: whether an invitation's email failed (one seek, not a read of its every event).
            models.Index(fields=["invitation", "action"], name="event_invitation_action_idx"),
            # The sealer's work list: small, as events are sealed right after their transaction commits.
            models.Index(fields=["practice", "id"], condition=Q(sequence__isnull=True), name="event_unsealed_idx"),
            models.Index(fields=["client_ip", "action", "at"], name="event_client_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["practice", "sequence"], name="one_place_per_event_in_chain"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action}"


class Attempt(models.Model):
    """One guess counted against a throttle (a password sign-in or an identity check), written and
    committed BEFORE the guess is checked, so a burst of simultaneous guesses is counted in full. A
    guess that succeeds deletes its row: only failures (and guesses still being checked) count. The
    username is kept only as a hash: it is often an email address."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", _("Password sign-in")
        IDENTITY = "identity", _("Identity check")
        PASSWORD_RESET = "password_reset", _("Password reset request")
        ACCESS_REQUEST = "access_request", _("Request for portal access")
        EMAIL_CODE = "email_code", _("Email confirmation code sent")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    username_hash = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["kind", "username_hash", "at"], name="attempt_user_idx"),
            models.Index(fields=["kind", "client_ip", "at"], name="attempt_ip_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} attempt at {self.at:%Y-%m-%d %H:%M:%S}"


class InvitationJob(models.Model):
    """A bulk invitation: the patients selected when staff confirmed, kept as InvitationJobChunk rows
    and sent chunk by chunk by a task (access.actions.jobs). A chunk is marked done in the transaction
    that sends it, so a re-run or a resumed job takes exactly the chunks not yet committed and never
    invites anyone twice. What it did: its `invitations` (Invitation.job) and its `skips`."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="invitation_jobs")
    started_by = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    selection = models.CharField(max_length=200, help_text="What was selected, in words (e.g. 'Status: Not invited').")
    total = models.PositiveIntegerField(default=0)
    invited = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # Stamped by each chunk: a running job whose heartbeat is old lost its worker and is resumed.
    heartbeat_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # The one-time key of the preview confirmed (the staff page's), so that Confirm sent twice, from
    # two tabs or a double click, starts one job: the second insert of the key is refused.
    preview_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="job_stalled_idx")]

    def __str__(self) -> str:
        return f"Invitation job {self.pk} ({self.status})"


class InvitationJobChunk(models.Model):
    """Part of a job's snapshot: the ids of up to JOB_CHUNK of its patients (ascending), sent in one
    transaction that also marks the chunk done. One row per chunk, not per patient: the snapshot costs
    a few inserts, and recording what a patient's send did costs nothing more than the send itself."""

    job = models.ForeignKey(InvitationJob, on_delete=models.CASCADE, related_name="chunks")
    patient_ids = models.JSONField()
    done = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["job", "id"], condition=Q(done=False), name="job_chunk_todo_idx")]

    def __str__(self) -> str:
        return f"Job {self.job_id} chunk {self.pk}: {'done' if self.done else 'to do'}"


class InvitationJobPatient(models.Model):
    """A patient a job skipped, and why (the job's invited patients are its invitations)."""

    job = models.ForeignKey(InvitationJob, on_delete=models.CASCADE, related_name="skips")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    reason_code = models.CharField(max_length=32, blank=True, help_text="Why it was skipped, as a code (access.rules).")
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was skipped, in words.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "patient"], name="one_row_per_patient_per_job")]

    def __str__(self) -> str:
        return f"Job {self.job_id} skipped patient {self.patient_id}: {self.reason_code}"


class AccessRequest(models.Model):
    """Someone asked a practice for portal access on its public page, without an invitation. Staff
    match it to a chart (or make one) and approve (an ordinary invitation to the chart's email) or
    decline; unanswered, it lapses after access.actions.requests.LAPSE_AFTER."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")
        LAPSED = "lapsed", _("Lapsed")

    class DeclineReason(models.TextChoices):
        """Each label is also the sentence of the requester's email (translated into the request's language)."""

        # Translators: patients read this.
        NOT_A_PATIENT = "not_a_patient", _("We could not find you among our patients")
        # Translators: patients read this.
        DETAILS_DIFFER = "details_differ", _("The details did not match our records")
        # Translators: patients read this.
        CONTACT_US = "contact_us", _("Please contact the practice")
        # Translators: patients read this.
        DUPLICATE = "duplicate", _("You already have portal access or an invitation")

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="access_requests")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    email = models.EmailField(max_length=150)
    phone = models.CharField(max_length=20, help_text="E.164")
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(help_text="When it was last made or merged with a repeat.")
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                help_text="The chart staff matched it to, once decided.")
    decided_by = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=32, choices=DeclineReason.choices, blank=True)
    invitation = models.ForeignKey(Invitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The language of the page the request was made on: its decline or lapse email is written in it.
    language = models.CharField(max_length=8, default="en", validators=[validate_language])

    class Meta:
        constraints = [
            # A repeat (same email and date of birth) while one is open is merged into it.
            models.UniqueConstraint(fields=["practice", "email", "date_of_birth"], condition=Q(status="open"),
                                    name="one_open_request_per_person"),
        ]
        indexes = [models.Index(fields=["practice", "status", "created_at"], name="request_queue_idx")]

    def __str__(self) -> str:
        return f"Access request {self.pk} ({self.status})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class AccountLanguage(models.Model):
    """The language a patient portal account chose with the language switch once signed in
    (portal.language): its pages and its password-reset email follow it, on any browser."""

    account = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                   related_name="portal_language")
    language = models.CharField(max_length=8, validators=[validate_language])

    def __str__(self) -> str:
        return f"Account {self.account_id}: {self.language}"


class EmailConfirmation(models.Model):
    """A patient proving they read an address before any account exists: a short code emailed to it
    (access.actions.email_confirmation). Bound to the invitation being accepted, so a confirmed address
    is usable only by the session that passed that invitation's identity check. Only the code's keyed
    hash is kept (access.tokens.hash_code)."""

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="email_confirmations")
    email = models.EmailField(max_length=150)
    code_hash = models.CharField(max_length=64, editable=False)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    failed_checks = models.PositiveSmallIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True, help_text="When an account was made with it.")

    class Meta:
        indexes = [models.Index(fields=["invitation", "-sent_at"], name="email_confirmation_idx")]

    def __str__(self) -> str:
        return f"Email confirmation {self.pk} ({'confirmed' if self.confirmed_at else 'waiting'})"


class TextConsent(models.Model):
    """One step of a mobile number's consent to texts from a practice: the ledger, only ever appended
    to (access.actions.texting). The number's consent now is its latest step; no step, no consent."""

    class Source(models.TextChoices):
        PATIENT_FORM = "patient_form", _("The patient, on a form")
        STAFF_SPOKEN = "staff_spoken", _("Staff, recording the patient's spoken agreement")
        IMPORT = "import", _("An import column")
        REPLY = "reply", _("The patient's reply by text")
        NUMBER_CHANGED = "number_changed", _("The chart's mobile number changed")  # the old number's consent ends

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="text_consents")
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.SET_NULL, related_name="text_consents")
    number = models.CharField(max_length=20, help_text="E.164")
    consented = models.BooleanField()
    source = models.CharField(max_length=16, choices=Source.choices)
    recorded_by = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    note = models.CharField(max_length=100, blank=True, help_text="e.g. the reply's keyword")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["practice", "number", "-at", "-id"], name="text_consent_latest_idx"),
                   models.Index(fields=["number"], name="text_consent_number_idx")]

    def __str__(self) -> str:
        return f"{'Consent' if self.consented else 'No consent'} to texts ({self.get_source_display()})"


class Proxy(models.Model):
    """Someone who acts for a patient on the portal (issue 21): a parent or guardian of a minor, invited
    by staff from the chart, or a caregiver of an adult, invited by the patient from My account. One
    portal account may act for many people (and be a patient itself). Never deleted: a revoked or ended
    grant stays as the record of who could see what, and when. Written only by access.actions: proxies
    (staff), proxy_acceptance (the proxy accepting) and caregivers (the patient inviting and revoking)."""

    class Kind(models.TextChoices):
        GUARDIAN = "guardian", _("Parent or guardian")
        CAREGIVER = "caregiver", _("Caregiver")

    class Relationship(models.TextChoices):
        # Translators: patients read this.
        MOTHER = "mother", _("Mother")
        # Translators: patients read this.
        FATHER = "father", _("Father")
        # Translators: patients read this.
        PARENT = "parent", _("Parent")
        # Translators: patients read this.
        GUARDIAN = "guardian", _("Legal guardian")
        # Translators: patients read this.
        SPOUSE = "spouse", _("Spouse or partner")
        # Translators: patients read this.
        CHILD = "child", _("Adult child")
        # Translators: patients read this.
        RELATIVE = "relative", _("Other relative")
        # Translators: patients read this.
        OTHER = "other", _("Other")

    class Level(models.TextChoices):
        FULL = "full", _("Full: what the patient would see")
        LIMITED = "limited", _("Limited: appointments and practice contact only")

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")  # see its ProxyInvitation for pending / expired / locked / revoked
        ACTIVE = "active", _("Active")
        REVOKED = "revoked", _("Revoked")
        ENDED = "ended", _("Ended")

    class EndReason(models.TextChoices):
        REVOKED_BY_STAFF = "revoked_by_staff", _("Revoked by the practice")
        REVOKED_BY_PATIENT = "revoked_by_patient", _("Revoked by the patient")
        WITHDRAWN = "withdrawn", _("Given up by the proxy")
        TURNED_18 = "turned_18", _("The patient turned 18")

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="proxies")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="proxies",
                                help_text="The person acted for.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The proxy's portal account, once they accepted (their own patient account, if they are a patient).
    account = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="proxy_grants")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    relationship = models.CharField(max_length=16, choices=Relationship.choices)
    email = models.EmailField(max_length=150)
    # A guardian's own mobile number as staff entered it: half of their identity check. Empty for caregivers.
    mobile_phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    level = models.CharField(max_length=16, choices=Level.choices)
    # A teen's agreement to a guardian's full access, as staff recorded it (who and when); see Practice ages.
    teen_agreement_by = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="+")
    teen_agreement_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    invited_by = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                   help_text="Staff who invited a guardian; empty for a caregiver the patient invited.")
    created_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    # The notice 30 days before a guardian's access ends at 18 went out (at most once).
    ending_notice_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=24, choices=EndReason.choices, blank=True)

    class Meta:
        constraints = [
            # One live grant per person acted for and proxy address: inviting again is a resend.
            models.UniqueConstraint(fields=["patient", "email"], condition=Q(status__in=["invited", "active"]),
                                    name="one_live_proxy_per_patient_and_email"),
            # An account acts for a person through one live grant at most.
            models.UniqueConstraint(fields=["patient", "account"], condition=Q(status="active"),
                                    name="one_active_proxy_per_patient_and_account"),
        ]
        indexes = [
            models.Index(fields=["account", "status"], name="proxy_account_idx"),
            models.Index(fields=["status", "kind"], name="proxy_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Proxy {self.pk} ({self.kind}, {self.status})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ProxyInvitation(models.Model):
    """The link (or, for a caregiver, the one-time code) that leads a proxy to accept a grant. Same
    states, lifetime and lock as a patient's Invitation; a resend revokes it and issues a new one.
    Only hashes of its secrets are kept (access.tokens)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")
        LOCKED = "locked", _("Locked")

    proxy = models.ForeignKey(Proxy, on_delete=models.CASCADE, related_name="invitations")
    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # A caregiver's one-time code the patient saw on screen and passed on (tokens.hash_code).
    code_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    sent_by = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    failed_checks = models.PositiveSmallIntegerField(default=0)
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    # Whoever passed the identity check holds the proof (tokens.PROXY_IDENTITY_PROOF); accepting needs it.
    identity_proof_hash = models.CharField(max_length=64, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # 0: sent by staff (or the patient, for a caregiver); k: the k-th re-invite after links went unanswered.
    reinvite_number = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proxy"], condition=Q(status="pending"),
                                    name="one_pending_invitation_per_proxy"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="proxy_invitation_expiry_idx")]

    def __str__(self) -> str:
        return f"Proxy invitation {self.pk} ({self.status})"
