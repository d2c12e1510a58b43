"""A patient's accept in progress in one browser: what its session keeps between the invitation's steps.

The link and identity steps are portal.accept_session's, under this module's keys (sealed there; the
session key changes at each gain, and a sign-in rotates it itself); what only a patient's invitation
has (a dead or expired link, a renewal, an address confirmed by code) is kept here, sealed the same way.
"""

from django.contrib.sessions.backends.base import SessionBase

from portal import retry
from portal.accept_session import AcceptInProgress, unseal
from portico import crypto

OPENED_LINK = "portal:opened_link"  # the sealed token of the invitation link this browser opened
IDENTITY_CONFIRMED = "portal:identity_confirmed"  # {"invitation": pk, "proof": sealed proof} once passed
LINK_PROBLEM = "portal:link_problem"  # why the last link opened could not be used, and whose it was
EXPIRED_LINK = "portal:expired_link"  # the sealed token of an expired link, which its patient may renew
RENEWED = "portal:renewed"  # where the renewed invitation went (masked) and which practice sent it
# For an invitation without an address: {"invitation": pk, "confirmation": EmailConfirmation pk, "confirmed": bool}
EMAIL = "portal:email"

# The link and identity steps (portal.accept_session) under this module's keys; its forget also drops
# the address being confirmed and a kept retry.
in_progress = AcceptInProgress(link_key=OPENED_LINK, identity_key=IDENTITY_CONFIRMED, also_forget=(EMAIL, retry.KEY))


def note_link_problem(session: SessionBase, reason: str, practice_id: int | None = None, token: str = "") -> None:
    """An unusable link only says why (and which practice sent it); it never touches an accept in
    progress for another link. An expired one is kept (sealed) so that its patient may renew it."""
    session[LINK_PROBLEM] = {"reason": reason, "practice": practice_id}
    if reason == "expired" and token:
        if unseal(session.get(EXPIRED_LINK)) != token:
            session.cycle_key()  # it gains a link that can be renewed: see the module's docstring
        session[EXPIRED_LINK] = crypto.encrypt(token)
    else:
        session.pop(EXPIRED_LINK, None)


def expired_link(session: SessionBase) -> str:
    """The token of the expired link this browser opened last, or ""."""
    return unseal(session.get(EXPIRED_LINK))


def note_renewed(session: SessionBase, masked_to: str, practice_id: int, *, by_text: bool = False) -> None:
    """The renewal is done: the expired link is no longer needed; the next page says where the new one
    went (a masked email address, or a masked mobile number `by_text`)."""
    session.pop(EXPIRED_LINK, None)
    session[RENEWED] = {"to": masked_to, "practice": practice_id, "by_text": by_text}


def renewed(session: SessionBase) -> dict:
    return session.get(RENEWED) or {}


def link_problem(session: SessionBase) -> tuple[str, int | None]:
    problem = session.get(LINK_PROBLEM) or {}
    if isinstance(problem, str):  # kept by an earlier release: the reason alone
        return problem, None
    return problem.get("reason", "unknown"), problem.get("practice")


def email_sent(session: SessionBase, invitation_id: int, confirmation_id: int) -> None:
    session[EMAIL] = {"invitation": invitation_id, "confirmation": confirmation_id, "confirmed": False}


def email_confirmed(session: SessionBase) -> None:
    session[EMAIL] = {**session[EMAIL], "confirmed": True}


def email_confirmation_id(session: SessionBase, invitation_id: int, *, confirmed: bool) -> int | None:
    """The EmailConfirmation this browser asked for (`confirmed`: and typed the code of) for this invitation."""
    kept = session.get(EMAIL) or {}
    if kept.get("invitation") != invitation_id or kept.get("confirmed", False) != confirmed:
        return None
    return kept.get("confirmation")


def confirmed_email_id(session: SessionBase) -> int | None:
    """The confirmed EmailConfirmation to accept with (the accept action checks whose it is)."""
    kept = session.get(EMAIL) or {}
    return kept.get("confirmation") if kept.get("confirmed") else None


def forget_email(session: SessionBase) -> None:
    session.pop(EMAIL, None)

