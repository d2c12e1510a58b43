"""Patient accounts' passwords: reset by email (throttled per address and per client) and changed,
each recorded for every practice the account is connected to."""

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction

from access import attempts, errors
from access.actions.languages import account_language
from access.history import Actor, record
from access.models import AccessEvent, Attempt, Channel
from access.selectors import live_connections_of
from clinic.models import StaffMember
from mail import messages as mail
from portico.client import NO_CLIENT, Client

Action = AccessEvent.Action


# Password-reset emails one address, and requests one client address, may ask for in RESET_WINDOW.
MAX_RESETS_PER_ADDRESS = 3


MAX_RESETS_PER_CLIENT = 20


RESET_WINDOW = datetime.timedelta(hours=1)


def claim_password_reset(email: str, *, client: Client = NO_CLIENT) -> None:
    """Count a password-reset request against its address and its client before anything is looked
    up, whether or not the address has an account (so a refusal says nothing about that); raises
    TooManyAttempts over the limits."""
    try:
        attempts.claim_for_address(Attempt.Kind.PASSWORD_RESET, email, client.ip, window=RESET_WINDOW,
                                   per_address=MAX_RESETS_PER_ADDRESS, per_client=MAX_RESETS_PER_CLIENT)
    except attempts.OverLimit:
        raise errors.TooManyAttempts() from None


@transaction.atomic(durable=True)
def send_password_reset(account: AbstractBaseUser | None, *, client: Client = NO_CLIENT, language: str = "en") -> bool:
    """Mail a patient account a link to choose a new password (Django's purpose-bound token, dead once
    the password changes or after PASSWORD_RESET_TIMEOUT), recorded for every practice it is connected
    to. No account, an inactive one or a staff login gets nothing: staff passwords are not reset
    through the patient portal. The mail is in the account's chosen language, else in `language` (the
    page it was asked from). Returns whether a mail was queued."""
    if account is None or not account.is_active or StaffMember.objects.filter(user=account).exists():
        return False
    for connection in live_connections_of(account):
        record(connection.practice, Action.PASSWORD_RESET_REQUESTED, actor=Actor.patient(account),
               patient=connection.patient, channel=Channel.PORTAL, client=client)
    mail.queue_password_reset(account, default_token_generator.make_token(account),
                              language=account_language(account) or language)
    return True


@transaction.atomic(durable=True)
def change_password(account: AbstractBaseUser, password: str, *, reason: str, client: Client = NO_CLIENT) -> None:
    """Set a patient account's new password, recorded for every practice it is connected to. Every
    session of the account ends with it (Django ties a session to the password hash); the caller
    keeps its own with update_session_auth_hash."""
    account.set_password(password)
    account.save(update_fields=["password"])
    for connection in live_connections_of(account):
        record(connection.practice, Action.PASSWORD_CHANGED, actor=Actor.patient(account),
               patient=connection.patient, channel=Channel.PORTAL, reason=reason, client=client)
