"""POST-redirect-GET for the patient's forms: a failed submission is kept in the session and shown by
the GET the browser is redirected to, so Back never lands on a posted page ("Confirm form
resubmission"). What was typed is kept only where it may be shown again, sealed like the invitation
token (portico.crypto), and only until that one GET."""

import json
from dataclasses import dataclass, field

from django.contrib.sessions.backends.base import SessionBase

from portico import crypto

KEY = "portal:retry"


@dataclass(frozen=True)
class Retry:
    message: str = ""  # the page's own message (e.g. "We could not confirm your identity…")
    errors: dict[str, list[str]] = field(default_factory=dict)  # field name (or "__all__") -> messages
    typed: dict[str, str] = field(default_factory=dict)  # values to show again; never a secret


def keep(session: SessionBase, step: str, retry: Retry) -> None:
    session[KEY] = {"step": step, "message": retry.message, "errors": retry.errors,
                    "typed": crypto.encrypt(json.dumps(retry.typed)) if retry.typed else ""}


def take(session: SessionBase, step: str) -> Retry:
    """The failed attempt at `step`, once; an empty Retry if there is none."""
    kept = session.get(KEY)
    if not kept or kept.get("step") != step:
        return Retry()
    del session[KEY]
    typed = {}
    if kept.get("typed"):
        try:
            typed = json.loads(crypto.decrypt(kept["typed"]))
        except ValueError:  # sealed with a key since retired: show the form empty
            pass
    return Retry(kept.get("message", ""), kept.get("errors") or {}, typed)


def forget(session: SessionBase) -> None:
    session.pop(KEY, None)
