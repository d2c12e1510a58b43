"""Refusals raised by access.actions. Each has a machine `code` and a `message` for people; each maps
to a page message (the pages), an HTTP status and a problem code (api.errors) in one place.

Every message is translated when the refusal is raised, into the language active then: the patient
page's (portal.language) for the patient's side, below; English for staff pages, the API and workers.
Staff messages are marked but have no Spanish translation; a patient's carries the translator comment
"patients read this", which the catalog test reads to require its Spanish (docs/languages.md). API
problem messages are machine-facing and stay English."""

import datetime

from django.utils.dateformat import format as date_format
from django.utils.translation import gettext, gettext_noop, ngettext


class Refusal(Exception):
    """Any refusal of an access action."""

    code = "refused"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvitationError(Refusal):
    """Staff's (or Portico's own) invitation refused: sending, resending or revoking."""

    code = "invitation_error"


class NotEligible(InvitationError):
    code = "not_eligible"

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(gettext("This patient cannot be invited yet: %(missing)s.") % {"missing": "; ".join(missing)})


class AlreadyPending(InvitationError):
    code = "already_pending"

    def __init__(self, expires_at: datetime.datetime, tz: datetime.tzinfo):
        self.expires_at = expires_at
        day = expires_at.astimezone(tz)
        expires = f"{day.day} {date_format(day, 'M Y')}"
        super().__init__(gettext("This patient already has a pending invitation (expires %(day)s).") % {"day": expires})


class AlreadyConnected(InvitationError):
    code = "already_connected"

    def __init__(self):
        super().__init__(gettext("This patient is already connected to the portal."))


class TooManyInvitations(InvitationError):
    code = "too_many_invitations"

    def __init__(self, limit: int):
        super().__init__(gettext("This patient has been sent %(limit)d invitations in the last 24 hours. Please try again "
                                 "tomorrow.") % {"limit": limit})


class NothingToRevoke(InvitationError):
    code = "nothing_to_revoke"
    MESSAGES = {
        None: gettext_noop("This patient has no pending invitation or portal access to revoke."),
        "invitation": gettext_noop("This patient's invitation is no longer pending (it may have just been accepted), "
                                   "so nothing was revoked."),
        "access": gettext_noop("This patient is no longer connected, so nothing was revoked."),
    }

    def __init__(self, what: str | None = None):
        super().__init__(gettext(self.MESSAGES[what]))


# --- the patient's side: a link, an identity check, an account ---------------------------------------

class LinkNotUsable(Refusal):
    """The invitation link cannot be used. `reason` is one of REASONS; pages word each one for the patient."""

    code = "link_not_usable"
    REASONS = ("unknown", "expired", "revoked", "used", "locked")

    def __init__(self, reason: str):
        assert reason in self.REASONS
        self.reason = reason
        super().__init__(f"This invitation link cannot be used ({reason}).")


class CannotRenew(Refusal):
    """An expired invitation that the patient may not renew from its link. `reason` is one of REASONS;
    the patient's page says what to do instead."""

    code = "cannot_renew"
    REASONS = {
        # Translators: patients read this.
        "off": gettext_noop("This practice does not renew invitation links online."),
        # Translators: patients read this.
        "too_late": gettext_noop("This invitation expired too long ago to be renewed online."),
        # Neutral: whoever holds an old link may not be the patient, so these say nothing about the chart.
        # Translators: patients read this.
        "connected": gettext_noop("This link cannot be renewed online."),
        "email_changed": gettext_noop("This link cannot be renewed online."),
        "no_details": gettext_noop("This link cannot be renewed online."),
        "no_email": gettext_noop("This link cannot be renewed online."),  # printed, to a patient without an address
        # Translators: patients read this.
        "newer": gettext_noop("A newer invitation has been sent since this one: use the link in the newest email."),
    }

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(gettext(self.REASONS[reason]))


class IdentityNotConfirmed(Refusal):
    """Deliberately says nothing about which answer was wrong."""

    code = "identity_not_confirmed"

    def __init__(self, attempts_left: int):
        self.attempts_left = attempts_left
        # Translators: patients read this.
        super().__init__(gettext("We could not confirm your identity with the details you entered."))


class TooManyAttempts(Refusal):
    code = "too_many_attempts"

    def __init__(self):
        # Translators: patients read this.
        super().__init__(gettext("Too many attempts from your network. Please wait 15 minutes and try again."))


class CodeNotRecognised(Refusal):
    """A typed activation code that matches no invitation (counted like a wrong identity answer)."""

    code = "code_not_recognised"

    def __init__(self):
        # Translators: patients read this.
        super().__init__(gettext("That activation code is not right. Check it against your letter and try again."))


class EmailNotConfirmed(Refusal):
    """An account for an invitation without an address needs an address confirmed with a code first,
    or the code given for it was wrong (`attempts_left`; 0: the code no longer works, ask for a new one)."""

    code = "email_not_confirmed"

    def __init__(self, attempts_left: int = 0):
        self.attempts_left = attempts_left
        if attempts_left:
            # Translators: patients read this.
            message = ngettext("That code is not right. You have %(count)d more try.",
                               "That code is not right. You have %(count)d more tries.",
                               attempts_left) % {"count": attempts_left}
        else:
            # Translators: patients read this.
            message = gettext("Confirm your email address with a new code before you continue.")
        super().__init__(message)


class AccountExists(Refusal):
    code = "account_exists"

    def __init__(self):
        # Translators: patients read this.
        super().__init__(gettext("A portal account with this email already exists. Sign in to connect it."))


class WrongAccount(Refusal):
    code = "wrong_account"

    def __init__(self):
        # Translators: patients read this.
        super().__init__(gettext("This invitation was sent to a different email address than the account you are signed in to."))


class JobAlreadyStarted(Exception):
    """start_invitation_job was given the key of a job already started (a Confirm sent twice): `job`."""

    code = "job_already_started"

    def __init__(self, job):
        super().__init__(f"Invitation job {job.pk} was already started from this preview.")
        self.job = job


# --- requests for portal access (self sign-up, staff approve) -----------------------------------------

class RequestError(Refusal):
    """Staff's decision on an access request refused."""

    code = "request_error"


class RequestNotOpen(RequestError):
    code = "request_not_open"

    def __init__(self, status_label: str):
        self.status_label = status_label
        super().__init__(gettext("This request is no longer open (it is %(status)s), so nothing was changed.")
                         % {"status": status_label.lower()})


class EmailChoiceNeeded(RequestError):
    """The request's address is not the chart's: staff must say whether the chart's changes."""

    code = "email_choice_needed"

    def __init__(self, requested: str, on_file: str):
        self.requested, self.on_file = requested, on_file
        on_file_words = on_file or gettext("no email address")
        super().__init__(gettext("The request gives %(requested)s but the chart has %(on_file)s: choose to update the "
                                 "chart's email to the request's, or to keep the chart's, before approving.")
                         % {"requested": requested, "on_file": on_file_words})


class ChartOfAnotherPractice(RequestError):
    code = "not_found"

    def __init__(self):
        super().__init__(gettext("No such patient."))


class UnknownDeclineReason(RequestError):
    code = "invalid"

    def __init__(self, reason: str):
        super().__init__(gettext("Choose a reason from the list (not %(reason)s).") % {"reason": repr(reason[:40])})


class NoMobileNumber(Refusal):
    """Consent to texts is about a mobile number: there must be one on the chart (or given with it)."""

    code = "no_mobile_number"

    def __init__(self):
        super().__init__(gettext("Add the patient's mobile number first: consent to texts is about that number."))


# --- proxy access, the proxy's and the patient's side (access.actions.proxy_acceptance, caregivers) ----

class ProxyAgeEnded(Refusal):
    """A parent's or guardian's access cannot start: the patient has reached the practice's age at which
    it ends (Practice.proxy_ends_at_age), on the practice's date."""

    code = "proxy_age_ended"

    def __init__(self):
        # Translators: patients read this.
        super().__init__(gettext("This invitation can no longer be accepted: the patient is now old enough to have "
                                 "their own portal account. Please contact the practice."))


class NotAnAdult(Refusal):
    """Only an adult patient (of the age at which a guardian's access ends) may invite a caregiver."""

    code = "not_an_adult"

    def __init__(self):
        # Translators: patients read this.
        super().__init__(gettext("Only adult patients can invite a caregiver."))


class ProxyAlreadyInvited(Refusal):
    """That address already has a live grant (invited or active) for this patient."""

    code = "proxy_already_invited"

    def __init__(self):
        # Translators: patients read this.
        super().__init__(gettext("This person already has access to your portal, or an invitation waiting. "
                                 "Revoke it first to invite them again."))


class TooManyCaregiverInvitations(Refusal):
    """A patient's caregiver invitations are capped per day, so the form cannot flood strangers' inboxes."""

    code = "too_many_caregiver_invitations"

    def __init__(self, limit: int):
        # Translators: patients read this.
        super().__init__(ngettext("You have invited %(count)d caregiver in the last 24 hours. Please try again tomorrow.",
                                  "You have invited %(count)d caregivers in the last 24 hours. Please try again "
                                  "tomorrow.", limit) % {"count": limit})


class NoSuchProxy(Refusal):
    """Not one of the caller's own (another person's id looks missing), or no longer live."""

    code = "not_found"

    def __init__(self):
        # Translators: patients read this.
        super().__init__(gettext("There is no such access to change."))


# --- parents and guardians (access.actions.proxies); codes shared with patients' invitations ---------

class GuardianNotEligible(NotEligible):
    """A parent or guardian cannot be invited for this patient: what is missing, in words (proxy_rules)."""

    def __init__(self, missing: list[str]):
        super().__init__(missing)
        self.message = gettext("A parent or guardian cannot be invited for this patient: %(missing)s.") % {
            "missing": "; ".join(missing)}
        self.args = (self.message,)


class GuardianAlreadyInvited(AlreadyPending):
    def __init__(self):
        InvitationError.__init__(self, gettext(
            "This address already has a pending invitation for this patient: use Resend to send a new link."))
        self.expires_at = None


class GuardianAlreadyActive(AlreadyConnected):
    def __init__(self):
        InvitationError.__init__(self, gettext("This address already has access to this patient's portal."))


class TooManyGuardianInvitations(TooManyInvitations):
    def __init__(self, limit: int):
        InvitationError.__init__(self, gettext(
            "This address has been sent %(limit)d invitations for this patient in the last 24 hours. Please try "
            "again tomorrow.") % {"limit": limit})


class ProxyNotLive(NothingToRevoke):
    """The proxy's access already ended (revoked, or the patient came of age): nothing to revoke or resend."""

    def __init__(self):
        InvitationError.__init__(self, gettext("This access has already ended, so nothing was changed."))


class ProxyAlreadyActive(AlreadyConnected):
    """Resend asked for a proxy who has accepted meanwhile."""

    def __init__(self):
        InvitationError.__init__(self, gettext("This person has already accepted: there is no link to resend."))
