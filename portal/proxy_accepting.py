"""A proxy's accept in progress in one browser, and whom a signed-in account acts for.

Kept apart from a patient's accept (portal.accepting) so that opening a proxy link never disturbs a
patient's invitation in progress, and sealed the same way (portico.crypto): a reader of the session
table finds no usable token or proof."""

from django.contrib.sessions.backends.base import SessionBase

from portal.accepting import _unseal
from portico import crypto

OPENED_LINK = "portal:proxy_link"  # the sealed token of the proxy invitation link this browser opened
IDENTITY_CONFIRMED = "portal:proxy_identity"  # {"invitation": pk, "proof": sealed proof} once passed
# Whom the signed-in account acts for: "self", or an access.Proxy id. Only a choice: every request
# checks it against the account's active grants (portal.acting), so a revoked grant is gone at once.
ACTING_FOR = "portal:acting_for"
SELF = "self"
# A caregiver's one-time code, shown once on the page after the patient invited them.
NEW_CODE = "portal:caregiver_code"


def opened_link(session: SessionBase) -> str:
    return _unseal(session.get(OPENED_LINK))


def open_link(session: SessionBase, token: str) -> None:
    """Keep a usable link; a different one than before starts afresh under a new session key."""
    if opened_link(session) == token:
        return
    forget(session)
    session.cycle_key()
    session[OPENED_LINK] = crypto.encrypt(token)


def confirm_identity(session: SessionBase, invitation_id: int, proof: str) -> None:
    session.cycle_key()
    session[IDENTITY_CONFIRMED] = {"invitation": invitation_id, "proof": crypto.encrypt(proof)}


def identity_confirmed_for(session: SessionBase, invitation_id: int) -> bool:
    return (session.get(IDENTITY_CONFIRMED) or {}).get("invitation") == invitation_id


def identity_proof(session: SessionBase) -> str:
    return _unseal((session.get(IDENTITY_CONFIRMED) or {}).get("proof"))


def forget_identity(session: SessionBase) -> None:
    session.pop(IDENTITY_CONFIRMED, None)


def forget(session: SessionBase) -> None:
    for key in (OPENED_LINK, IDENTITY_CONFIRMED):
        session.pop(key, None)


def choose(session: SessionBase, person: int | str) -> None:
    session[ACTING_FOR] = person


def chosen(session: SessionBase) -> int | str | None:
    return session.get(ACTING_FOR)


def forget_choice(session: SessionBase) -> None:
    session.pop(ACTING_FOR, None)


def keep_new_code(session: SessionBase, proxy_id: int, code: str) -> None:
    session[NEW_CODE] = {"proxy": proxy_id, "code": crypto.encrypt(code)}


def take_new_code(session: SessionBase) -> tuple[int | None, str]:
    """The code to show once (and the grant it is for); gone after this."""
    kept = session.pop(NEW_CODE, None) or {}
    return kept.get("proxy"), _unseal(kept.get("code"))
