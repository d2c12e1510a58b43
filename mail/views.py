from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from clinic.decorators import staff_required
from clinic.models import Patient, StaffMember
from mail import mailbox


def mailbox_enabled(view):
    """The Mailbox exists only where PORTICO_MAILBOX is on (by default, in development)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.PORTICO_MAILBOX_ENABLED:
            raise Http404("No mailbox here")
        return view(request, *args, **kwargs)

    return wrapper


@mailbox_enabled
@login_required
@staff_required
def mailbox_list(request):
    caught = mailbox.caught_mail(to=_practice_addresses(request.staff))
    return render(request, "mail/mailbox.html", {"messages_caught": caught, "folder": settings.PORTICO_MAILBOX_DIR})


@mailbox_enabled
@login_required
@staff_required
def mailbox_message(request, key: str):
    caught = mailbox.one(key, to=_practice_addresses(request.staff))
    if caught is None:
        raise Http404("No such message")
    return render(request, "mail/mailbox_message.html", {"caught": caught})


def _practice_addresses(staff: StaffMember) -> set[str]:
    """The staff member's own practice: its patients' and its staff's addresses, nobody else's."""
    patients = Patient.objects.filter(practice=staff.practice_id).values_list("email", flat=True)
    colleagues = StaffMember.objects.filter(practice=staff.practice_id).values_list("user__email", flat=True)
    return {*patients, *colleagues}
