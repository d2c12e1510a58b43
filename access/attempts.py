"""Guesses counted before they are checked (NIST SP 800-63B §5.2.2 rate limiting).

Each guess first writes an Attempt row and commits it on its own, then counts the rows in the
window. Of any N guesses racing each other, the one that counts last sees all N rows, so at most
`maximum` of them go on to the (slow) check, however many arrive at once. A refused guess removes
its row (refusals cost nothing to check, so they do not extend the wait); a guess that passes
removes its row too (see `passed`), so only failures keep counting."""

import datetime
import hashlib

from django.db import transaction
from django.utils import timezone

from access.models import Attempt

# Rows older than this count in no window (the longest, actions.RESET_WINDOW, is an hour; a test keeps
# it so) and are pruned; the margin leaves a day of failed guesses to look at after an attack.
KEEP_FOR = datetime.timedelta(days=1)


class OverLimit(Exception):
    pass


def claim(kind: str, *, window: datetime.timedelta, limits: dict[str, tuple[str | None, int]]) -> Attempt:
    """Count one guess of `kind`. `limits` maps an Attempt field (username_hash, client_ip) to
    (this guess's value, how many guesses with that value the window allows); a None or empty value
    is not limited. Returns the guess's row, or raises OverLimit."""
    now = timezone.now()
    values = {field: value for field, (value, _) in limits.items()}
    # Committed before anything is checked: durable=True refuses to run inside a caller's transaction,
    # where concurrent guesses could not see this row.
    with transaction.atomic(durable=True):
        attempt = Attempt.objects.create(kind=kind, at=now, **values)
    recent = Attempt.objects.filter(kind=kind, at__gt=now - window)
    for field, (value, maximum) in limits.items():
        if value and recent.filter(**{field: value}).count() > maximum:
            attempt.delete()
            raise OverLimit()
    return attempt


def claim_for_address(kind: str, email: str, client_ip: str | None, *, window: datetime.timedelta,
                      per_address: int, per_client: int) -> Attempt:
    """`claim` for a request naming an email address (a password reset, a request for access): counted
    against the address (only its hash is kept, the same for any case) and the client's address."""
    address = hashlib.sha256(email.strip().casefold().encode()).hexdigest()
    return claim(kind, window=window, limits={"username_hash": (address, per_address),
                                              "client_ip": (client_ip, per_client)})


def passed(attempt: Attempt | None) -> None:
    """The guess was right: it no longer counts against anyone."""
    if attempt is not None:
        Attempt.objects.filter(pk=attempt.pk).delete()


def prune() -> int:
    """Delete guesses older than KEEP_FOR, in one DELETE (run_periodic); returns how many."""
    return Attempt.objects.filter(at__lt=timezone.now() - KEEP_FOR).delete()[0]
