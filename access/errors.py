"""Refusals raised by access.actions. Each has a machine `code` and a `message` for people; each maps
to a page message (the pages), an HTTP status and a problem code (api.errors) in one place."""

import datetime


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
        super().__init__("This patient cannot be invited yet: " + "; ".join(missing) + ".")


class AlreadyPending(InvitationError):
    code = "already_pending"

    def __init__(self, expires_at: datetime.datetime, tz: datetime.tzinfo):
        self.expires_at = expires_at
        day = expires_at.astimezone(tz)
        super().__init__(f"This patient already has a pending invitation (expires {day.day} {day:%b %Y}).")


class AlreadyConnected(InvitationError):
    code = "already_connected"

    def __init__(self):
        super().__init__("This patient is already connected to the portal.")


class TooManyInvitations(InvitationError):
    code = "too_many_invitations"

    def __init__(self, limit: int):
        super().__init__(f"This patient has been sent {limit} invitations in the last 24 hours. Please try again tomorrow.")


class NothingToRevoke(InvitationError):
    code = "nothing_to_revoke"
    MESSAGES = {
        None: "This patient has no pending invitation or portal access to revoke.",
        "invitation": "This patient's invitation is no longer pending (it may have just been accepted), "
                      "so nothing was revoked.",
        "access": "This patient is no longer connected, so nothing was revoked.",
    }

    def __init__(self, what: str | None = None):
        super().__init__(self.MESSAGES[what])


# --- the patient's side: a link, an identity check, an account ---------------------------------------

class LinkNotUsable(Refusal):
    """The invitation link cannot be used. `reason` is one of REASONS; pages word each one for the patient."""

    code = "link_not_usable"
    REASONS = ("unknown", "expired", "revoked", "used", "locked")

    def __init__(self, reason: str):
        assert reason in self.REASONS
        self.reason = reason
        super().__init__(f"This invitation link cannot be used ({reason}).")


class IdentityNotConfirmed(Refusal):
    """Deliberately says nothing about which answer was wrong."""

    code = "identity_not_confirmed"

    def __init__(self, attempts_left: int):
        self.attempts_left = attempts_left
        super().__init__("We could not confirm your identity with the details you entered.")


class TooManyAttempts(Refusal):
    code = "too_many_attempts"

    def __init__(self):
        super().__init__("Too many attempts from your network. Please wait 15 minutes and try again.")


class AccountExists(Refusal):
    code = "account_exists"

    def __init__(self):
        super().__init__("A portal account with this email already exists. Sign in to connect it.")


class WrongAccount(Refusal):
    code = "wrong_account"

    def __init__(self):
        super().__init__("This invitation was sent to a different email address than the account you are signed in to.")


class JobAlreadyStarted(Exception):
    """start_invitation_job was given the key of a job already started (a Confirm sent twice): `job`."""

    code = "job_already_started"

    def __init__(self, job):
        super().__init__(f"Invitation job {job.pk} was already started from this preview.")
        self.job = job
