"""What a browser's session keeps of one kind of invitation link while it is being accepted: the link's
token and, once the identity check passed, for which invitation and the one-time proof to accept with.

A patient's invitation (portal.accepting) and a proxy's (portal.proxy_accepting) each keep theirs under
their own keys, so opening one kind of link never disturbs the other's accept in progress; the steps
are the same and live here once.

Sessions live in the database, and a reader of the session table must not find a usable secret there,
so the token and the proof are kept sealed with the field keys (portico.crypto: keys outside the
database); the invitation id travels in clear because it grants nothing. The session key changes
whenever the session gains something (a new link, a passed identity check), so a session id planted in
the browser, or seen before, is worth nothing afterwards (OWASP Session Management Cheat Sheet).
"""

from django.contrib.sessions.backends.base import SessionBase

from portico import crypto


class AcceptInProgress:
    """The link and identity steps of one kind of invitation, under `link_key` and `identity_key`.
    `forget` also drops `also_forget`: what else that kind keeps only while a link is in progress."""

    def __init__(self, *, link_key: str, identity_key: str, also_forget: tuple[str, ...] = ()) -> None:
        self.link_key, self.identity_key = link_key, identity_key
        self.kept_keys = (link_key, identity_key, *also_forget)

    def opened_link(self, session: SessionBase) -> str:
        """The token of the link this browser opened, or "" if none (or sealed with a retired key)."""
        return unseal(session.get(self.link_key))

    def open_link(self, session: SessionBase, token: str) -> None:
        """Keep a usable link. A different one than before starts afresh, under a new session key."""
        if self.opened_link(session) == token:
            return
        self.forget(session)
        session.cycle_key()
        session[self.link_key] = crypto.encrypt(token)

    def confirm_identity(self, session: SessionBase, invitation_id: int, proof: str) -> None:
        """Whoever passed the check may continue, from a session key nobody else has held."""
        session.cycle_key()
        session[self.identity_key] = {"invitation": invitation_id, "proof": crypto.encrypt(proof)}

    def identity_confirmed_for(self, session: SessionBase, invitation_id: int) -> bool:
        return (session.get(self.identity_key) or {}).get("invitation") == invitation_id

    def identity_proof(self, session: SessionBase) -> str:
        return unseal((session.get(self.identity_key) or {}).get("proof"))

    def forget_identity(self, session: SessionBase) -> None:
        session.pop(self.identity_key, None)

    def forget(self, session: SessionBase) -> None:
        for key in self.kept_keys:
            session.pop(key, None)


def unseal(sealed) -> str:
    """A value sealed by crypto.encrypt, or "" if there is none or it was sealed with a retired key
    (the browser then opens the link again)."""
    if not isinstance(sealed, str) or not sealed:
        return ""
    try:
        return crypto.decrypt(sealed)
    except ValueError:
        return ""
