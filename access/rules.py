"""Who may be sent an invitation, decided over facts alone (no database, no clock): the one place the
rules live, for the chart button, the appointment window and bulk invitations alike. The facts for
many patients are loaded in a few set queries by access.selectors.invitation_facts."""

import datetime
from dataclasses import dataclass

from django.utils.translation import gettext, gettext_lazy, gettext_noop

from access import errors

# What a patient still needs, in words staff act on: marked here, translated when missing() says them
# (into the active language: English on staff pages, the API and workers).
ADD_EMAIL = gettext_noop("Add an email address")
# Where the practice texts a patient who has no email (Invite by: text when there is no email).
ADD_EMAIL_OR_TEXT = gettext_noop("Add an email address (or: can be invited by text: needs a mobile number with consent)")
ADD_IDENTITY = gettext_noop("Add a social security number, or a date of birth and a phone number")
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
    sent_in_last_day: int  # invitation emails (invitations sent, and reminders) in the last 24 hours
    tz: datetime.tzinfo  # the practice's, to word a pending invitation's expiry
    age: int | None = None  # in whole years on the practice's today; None: no date of birth on file
    minimum_age: int = 0  # the practice's setting
    # No email, but the practice invites by text when there is none and the mobile number has consent.
    textable_without_email: bool = False


def too_young(minimum_age: int) -> str:
    return gettext("Patients under %(age)d cannot have their own portal account") % {"age": minimum_age}


def age_on(today: datetime.date, born: datetime.date) -> int:
    """Whole years: a patient born on 29 February has a birthday on 1 March in other years."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def missing(*, has_email: bool, has_ssn: bool, has_date_of_birth_and_phone: bool, age: int | None = None,
            minimum_age: int = 0, text_instead: bool = False) -> list[str]:
    """Why a patient cannot be invited, in words staff can act on: an email address AND (a social
    security number OR a date of birth and a phone) must be on file, and a patient whose date of birth
    is on file must be at least the practice's minimum age (unknown: not refused for age). With
    `text_instead` (the practice texts a patient without email) the missing email says so."""
    needed = []
    if not has_email:
        needed.append(gettext(ADD_EMAIL_OR_TEXT if text_instead else ADD_EMAIL))
    if not (has_ssn or has_date_of_birth_and_phone):
        needed.append(gettext(ADD_IDENTITY))
    if age is not None and age < minimum_age:
        needed.append(too_young(minimum_age))
    return needed


def refusal(facts: InvitationFacts) -> errors.InvitationError | None:
    """Why this patient cannot be sent an invitation now (the error send_invitation raises), or None."""
    if needed := missing(has_email=facts.has_email or facts.textable_without_email, has_ssn=facts.has_ssn,
                         has_date_of_birth_and_phone=facts.has_date_of_birth_and_phone, age=facts.age,
                         minimum_age=facts.minimum_age):
        return errors.NotEligible(needed)
    if facts.pending_expires_at is not None and not facts.connected:
        return errors.AlreadyPending(facts.pending_expires_at, facts.tz)
    return email_refusal(facts)


def email_refusal(facts: InvitationFacts) -> errors.InvitationError | None:
    """Why no invitation email (a new invitation or a reminder) may go to this patient now, or None:
    never to a connected patient, and at most MAX_INVITATIONS_PER_DAY in 24 hours."""
    if facts.connected:
        return errors.AlreadyConnected()
    if facts.sent_in_last_day >= MAX_INVITATIONS_PER_DAY:
        return errors.TooManyInvitations(MAX_INVITATIONS_PER_DAY)
    return None


def print_refusal(facts: InvitationFacts) -> errors.InvitationError | None:
    """Why no invitation may be printed for this patient now, or None. As for an email but without
    needing an address (the patient gives and confirms one when creating the account); a pending
    invitation does not stop it (printing replaces it), while a connected patient and the daily cap do."""
    if needed := missing(has_email=True, has_ssn=facts.has_ssn,
                         has_date_of_birth_and_phone=facts.has_date_of_birth_and_phone, age=facts.age,
                         minimum_age=facts.minimum_age):
        return errors.NotEligible(needed)
    return email_refusal(facts)


# Skip reasons of a bulk invitation, as staff read them in previews and reports (codes: errors.*.code).
SKIP_LABELS = {
    errors.NotEligible.code: gettext_lazy("Not eligible"),
    errors.AlreadyPending.code: gettext_lazy("Already pending"),
    errors.AlreadyConnected.code: gettext_lazy("Already connected"),
    errors.TooManyInvitations.code: gettext_lazy("Invited too often today"),
}


def skip_label(error: errors.InvitationError) -> str:
    """The group a skipped patient is counted in: "Not eligible (Add an email address)" names what is missing."""
    label = str(SKIP_LABELS[error.code])
    if isinstance(error, errors.NotEligible):
        return gettext("%(label)s (%(missing)s)") % {"label": label, "missing": "; ".join(error.missing)}
    return label
