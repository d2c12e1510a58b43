"""Request and response shapes. Requests refuse unknown fields; no response schema has a place for an
invitation token (SentInvitation.token never reaches one), and the SSN is write-only (reads: masked)."""

import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field

from access.models import AccessRequest
from access.selectors import NEEDS_ATTENTION, PortalState

TEXT = r"^[^\x00]*$"  # PostgreSQL cannot store NUL: refused as invalid rather than failing in the database


# Patient.preferred_language (portico.languages).
LANGUAGE = ("The language of the patient's portal invitation, emails and pages: 'en' or 'es', or '' for the "
            "practice's default.")
PortalStatusFilter = Literal[(*PortalState.LABELS, NEEDS_ATTENTION)]  # type: ignore[valid-type]


def _iso_text(value):
    """JSON has no date type: a date or a moment comes as ISO 8601 text. Pydantic would also read a
    number as seconds since 1970 (-2e-79 became 1970-01-01): refused instead, as no caller means it."""
    if value is not None and not isinstance(value, str):
        raise ValueError("must be text in ISO 8601 form")
    return value


# Request dates and moments: ISO text only (the requests are otherwise strict, see Input).
IsoDate = Annotated[datetime.date, Field(strict=False), BeforeValidator(_iso_text)]
IsoMoment = Annotated[datetime.datetime, Field(strict=False), BeforeValidator(_iso_text)]


class Input(Schema):
    """A request body: unknown fields refused, and each value of its JSON type (strict: 1.0 or "1" is
    not an id, "true" not a boolean), so what the schema says is what is accepted."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Problem(Schema):
    """RFC 9457 problem details; `code` is stable per kind of refusal."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    missing: list[str] | None = Field(None, description="not_eligible: what the patient still needs.")
    errors: dict[str, list[str]] | None = Field(None, description="invalid: messages by field.")
    expires_at: datetime.datetime | None = Field(None, description="already_pending: when it expires.")


class PatientOut(Schema):
    id: int
    chart_number: str
    first_name: str
    last_name: str
    email: str
    date_of_birth: datetime.date | None
    phone: str
    ssn_masked: str = Field(description="The SSN is write-only: reads give ***-**-6789, or '' if none is on file.")
    doctor_id: int | None
    preferred_language: str = Field(description=LANGUAGE)
    portal_status: str
    created_at: datetime.datetime


class PatientPage(Schema):
    items: list[PatientOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class PatientCreate(Input):
    chart_number: str = Field(min_length=1, max_length=32, pattern=TEXT)
    first_name: str = Field(max_length=100, pattern=TEXT)
    last_name: str = Field(max_length=100, pattern=TEXT)
    email: str = Field("", max_length=150, pattern=TEXT)
    date_of_birth: IsoDate | None = None
    phone: str = Field("", max_length=40, pattern=TEXT)
    ssn: str = Field("", max_length=20, pattern=TEXT, description="Write-only.")
    doctor_id: int | None = None
    preferred_language: str = Field("", max_length=8, description=LANGUAGE)


class PatientUpdate(Input):
    """Only the fields sent change. `ssn: ""` removes the SSN on file."""

    first_name: str | None = Field(None, max_length=100, pattern=TEXT)
    last_name: str | None = Field(None, max_length=100, pattern=TEXT)
    email: str | None = Field(None, max_length=150, pattern=TEXT)
    date_of_birth: IsoDate | None = None
    phone: str | None = Field(None, max_length=40, pattern=TEXT)
    ssn: str | None = Field(None, max_length=20, pattern=TEXT, description="Write-only; '' removes it.")
    doctor_id: int | None = None
    preferred_language: str | None = Field(None, max_length=8, description=LANGUAGE)


class PageQuery(Schema):
    # Only a cursor this API gave out is one: an empty one is refused, not read as "the first page".
    cursor: str | None = Field(None, min_length=1, max_length=200)
    limit: int = Field(50, ge=1, le=200)


class PatientQuery(PageQuery):
    q: str = Field("", max_length=100, pattern=TEXT, description="Name, chart number, email or phone.")
    status: PortalStatusFilter | None = Field(None, description="Only patients with this portal status.")


class InvitationOut(Schema):
    id: int
    status: str
    email: str
    channel: str
    sent_at: datetime.datetime
    expires_at: datetime.datetime
    sent_by: str | None = Field(description="The staff member's name; null when Portico sent it itself.")


class ConnectionOut(Schema):
    connected_at: datetime.datetime


class PossibleActions(Schema):
    """The answer the Portal Access page uses to enable its buttons."""

    can_invite: bool
    invite_blocked_reason: str
    can_revoke_invitation: bool
    can_revoke_access: bool
    can_resend: bool


class PortalAccessOut(Schema):
    status: str
    status_label: str
    eligible: bool
    missing: list[str]
    email_failed: bool
    text_failed: bool = Field(description="A pending invitation's text could not be delivered.")
    invitation: InvitationOut | None = Field(description="The latest invitation, whatever its status.")
    connection: ConnectionOut | None = Field(description="The live connection, if connected.")
    actions: PossibleActions


class InviteIn(Input):
    appointment: int | None = Field(None, description="Sending from this appointment records the appointment channel.")


class EventOut(Schema):
    id: int
    at: datetime.datetime
    action: str
    action_label: str
    actor_kind: str
    actor_role: str
    actor_name: str
    channel: str
    outcome: str
    reason: str
    invitation_id: int | None


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None


class PatientFilter(Input):
    q: str = Field("", max_length=100, pattern=TEXT)
    status: PortalStatusFilter | None = None


class JobIn(Input):
    """Either `patient_ids` or `filter` (every patient matching it when the job starts)."""

    patient_ids: list[int] | None = Field(None, min_length=1, max_length=10000)
    filter: PatientFilter | None = None


class SkippedPatient(Schema):
    patient_id: int
    chart_number: str
    reason_code: str
    reason: str


class JobOut(Schema):
    id: int
    status: str
    selection: str
    created_at: datetime.datetime
    total: int
    invited: int
    skipped: int
    emails_delivered: int
    emails_failed: int
    done: bool
    skipped_reasons: dict[str, int]
    skipped_patients: list[SkippedPatient] = Field(description="The per-patient report of who was skipped and why.")


class AppointmentQuery(Schema):
    start: datetime.datetime = Field(description="From this moment (with its time zone)...")
    end: datetime.datetime = Field(description="...to this one, at most 31 days later.")
    doctor_id: int | None = None


class AppointmentOut(Schema):
    id: int
    patient_id: int
    doctor_id: int
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    reason: str
    status: str
    patient_portal_status: str | None = None


class AppointmentCreate(Input):
    patient_id: int
    doctor_id: int
    starts_at: IsoMoment
    minutes: int = Field(ge=1, le=24 * 60)
    reason: str = Field("", max_length=200, pattern=TEXT)


class AppointmentChange(Input):
    status: Literal["cancelled", "completed", "no_show"]


class AccessRequestOut(Schema):
    id: int
    status: str
    first_name: str
    last_name: str
    date_of_birth: datetime.date
    email: str
    phone: str
    note: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    match: str = Field(description="no_match, one_match or possible_duplicates (open requests; '' once decided).")
    matching_patient_ids: list[int] = Field(description="Charts with the same birth date and name.")
    patient_id: int | None = Field(description="The chart it was approved for.")
    decided_at: datetime.datetime | None
    decline_reason: str
    invitation_id: int | None


class AccessRequestPage(Schema):
    items: list[AccessRequestOut]
    next_cursor: str | None


class AccessRequestQuery(PageQuery):
    status: Literal[tuple(AccessRequest.Status.values)] | None = Field(  # type: ignore[valid-type]
        "open", description="Only requests with this status (default: open).")


class ApproveRequestIn(Input):
    patient_id: int
    update_email: bool | None = Field(None, description=(
        "Required when the request's email differs from the chart's: true changes the chart's email to the "
        "request's first (as a Demographics change), false keeps the chart's. Omitted: refused with "
        "email_choice_needed."))


class DeclineRequestIn(Input):
    reason: Literal[tuple(AccessRequest.DeclineReason.values)]  # type: ignore[valid-type]


# --- texts (sms) ----------------------------------------------------------------------------------

class TextConsentIn(Input):
    mobile_phone: str | None = Field(None, max_length=40, pattern=TEXT,
                                     description="The chart's mobile number, set first if given (with the area code).")
    consented: bool
    source: Literal["patient_form", "staff_spoken", "import"] = Field(
        description="patient_form: the patient on a form; staff_spoken: staff recording the patient's spoken "
                    "agreement; import: a column of an imported file.")


class ConsentStepOut(Schema):
    consented: bool
    source: str
    recorded_by: str | None
    at: datetime.datetime
    note: str


class TextOut(Schema):
    id: int
    kind: str
    status: str = Field(description="queued, sending, accepted, sent, delivered, undelivered, failed or skipped.")
    error_code: str = Field(description="The provider's error code when it failed or was not delivered.")
    invitation_id: int | None
    created_at: datetime.datetime
    due_at: datetime.datetime = Field(description="When it goes (08:00 at the practice if asked during quiet hours).")
    accepted_at: datetime.datetime | None
    finished_at: datetime.datetime | None


class TextingOut(Schema):
    mobile_phone: str
    consented: bool
    can_be_texted: bool = Field(description="Can be invited by text: needs a mobile number with consent.")
    invite_by: str = Field(description="The practice's setting: email, email_and_text or text_without_email.")
    consent_ledger: list[ConsentStepOut] = Field(description="Every step for the number, newest first.")
    texts: list[TextOut] = Field(description="The latest texts to the number from the practice, newest first.")
