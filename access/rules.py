"""Who may be sent an invitation, decided over facts alone (no database, no clock): the one place the
rules live, for the chart button, the appointment window and bulk invitations alike. The facts for
many patients are loaded in a few set queries by access.selectors.invitation_facts."""

import datetime
from dataclasses import dataclass

from access import errors

ADD_EMAIL = "Add an email address"
ADD_IDENTITY = "Add a social security number, or a date of birth and a phone number"
# Invitations one patient may be sent in a day, so the buttons cannot flood an inbox.
MAX_INVITATIONS_PER_DAY = 5


@dataclass(frozen=True)
class InvitationFacts:
    """What the rules need to know about one patient, as of now."""

    patient_id: int
    has_email: bool
    has_ssn: bool
    has_date_of_birth_and_phone: bool
    connected: bool
    pending_expires_at: datetime.datetime | None  # of a pending invitation that has not lapsed
    sent_in_last_day: int
    tz: datetime.tzinfo  # the practice's, to word a pending invitation's expiry


def missing(*, has_email: bool, has_ssn: bool, has_date_of_birth_and_phone: bool) -> list[str]:
    """What must be added before a patient can be invited, in words staff can act on: an email
    address AND (a social security number OR a date of birth and a phone)."""
    needed = []
    if not has_email:
        needed.append(ADD_EMAIL)
    if not (has_ssn or has_date_of_birth_and_phone):
        needed.append(ADD_IDENTITY)
    return needed


def refusal(facts: InvitationFacts) -> errors.InvitationError | None:
    """Why this patient cannot be sent an invitation now (the error send_invitation raises), or None."""
    if needed := missing(has_email=facts.has_email, has_ssn=facts.has_ssn,
                         has_date_of_birth_and_phone=facts.has_date_of_birth_and_phone):
        return errors.NotEligible(needed)
    if facts.connected:
        return errors.AlreadyConnected()
    if facts.pending_expires_at is not None:
        return errors.AlreadyPending(facts.pending_expires_at, facts.tz)
    if facts.sent_in_last_day >= MAX_INVITATIONS_PER_DAY:
        return errors.TooManyInvitations(MAX_INVITATIONS_PER_DAY)
    return None


# Skip reasons of a bulk invitation, as staff read them in previews and reports (codes: errors.*.code).
SKIP_LABELS = {
    errors.NotEligible.code: "Not eligible",
    errors.AlreadyPending.code: "Already pending",
    errors.AlreadyConnected.code: "Already connected",
    errors.TooManyInvitations.code: "Invited too often today",
}


def skip_label(error: errors.InvitationError) -> str:
    """The group a skipped patient is counted in: "Not eligible (Add an email address)" names what is missing."""
    label = SKIP_LABELS[error.code]
    if isinstance(error, errors.NotEligible):
        return f"{label} ({'; '.join(error.missing)})"
    return label
