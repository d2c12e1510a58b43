"""What management commands share to name a practice and its staff from the command line
(`import_patients`, `invite_patients`): a lookup, or a CommandError that says what exists."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from clinic.models import Practice, StaffMember


def find_practice(value: str) -> Practice:
    """A practice by id or by exact name, or a CommandError that says which exist."""
    practices = Practice.objects.filter(pk=int(value)) if value.isdigit() else Practice.objects.filter(name=value)
    found = list(practices[:2])
    if len(found) == 1:
        return found[0]
    if found:
        raise CommandError(f"More than one practice is named {value!r}: give its id instead.")
    names = ", ".join(f"{p.pk} ({p.name})" for p in Practice.objects.order_by("pk")[:20])
    raise CommandError(f"No practice {value!r}. Practices: {names or 'none yet'}.")


def find_staff(practice: Practice, username: str) -> StaffMember:
    """The practice's staff member with this username, or a CommandError."""
    user = get_user_model().objects.filter(username=username, staff__practice=practice).first()
    if user is None:
        raise CommandError(f"No staff member {username!r} in {practice.name}.")
    return user.staff
