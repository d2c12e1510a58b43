"""A proxy's accept in progress in one browser, and whom a signed-in account acts for.

The link and identity steps are portal.accept_session's, under keys apart from a patient's accept
(portal.accepting), so that opening a proxy link never disturbs a patient's invitation in progress;
sealed the same way (portico.crypto): a reader of the session table finds no usable token or proof."""

from django.contrib.sessions.backends.base import SessionBase

from portal.accept_session import AcceptInProgress, unseal
from portico import crypto

OPENED_LINK = "portal:proxy_link"  # the sealed token of the proxy invitation link this browser opened
IDENTITY_CONFIRMED = "portal:proxy_identity"  # {"invitation": pk, "proof": sealed proof} once passed
# Whom the signed-in account acts for: "self", or an access.Proxy id. Only a choice: every request
# checks it against the account's active grants (portal.acting), so a revoked grant is gone at once.
ACTING_FOR = "portal:acting_for"
SELF = "self"
# A caregiver's one-time code, shown once on the page after the patient invited them.
NEW_CODE = "portal:caregiver_code"


# The link and identity steps (portal.accept_session) under this module's keys.
in_progress = AcceptInProgress(link_key=OPENED_LINK, identity_key=IDENTITY_CONFIRMED)


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
    return kept.get("proxy"), unseal(kept.get("code"))
