"""The development Mailbox (PORTICO_MAILBOX): the mail the dev SMTP server caught (mail.mailbox reads
it), shown to staff of the practice that sent it. A staff page, so it lives here: it needs the access
and clinic models to tell which practice sent an email, and `mail` imports only `portico`."""

from collections import defaultdict
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from access.models import Connection, Invitation, Proxy, ProxyInvitation
from clinic.decorators import staff_required
from clinic.models import Patient, StaffMember
from mail import mailbox
from mail.models import Message


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
    caught = mailbox.caught_mail(to=_practice_addresses(request.staff), sent=_sent_by(request.staff))
    return render(request, "clinic/mailbox.html", {"messages_caught": caught, "folder": settings.PORTICO_MAILBOX_DIR})


@mailbox_enabled
@login_required
@staff_required
def mailbox_message(request, key: str):
    caught = mailbox.one(key, to=_practice_addresses(request.staff), sent=_sent_by(request.staff))
    if caught is None:
        raise Http404("No such message")
    return render(request, "clinic/mailbox_message.html", {"caught": caught})


def _practice_addresses(staff: StaffMember) -> set[str]:
    """The staff member's own practice: its patients' and its staff's addresses, nobody else's."""
    patients = Patient.objects.filter(practice=staff.practice_id).values_list("email", flat=True)
    colleagues = StaffMember.objects.filter(practice=staff.practice_id).values_list("user__email", flat=True)
    proxies = Proxy.objects.filter(practice=staff.practice_id).values_list("email", flat=True)  # issue 21
    return {*patients, *colleagues, *proxies}


# What each kind of message is about: the object whose pk its dedupe key carries ("kind:pk[:stamp]",
# mail.messages), and so the practice that sent it. A password reset is about an account, which belongs
# to the practices it is connected to. A kind not listed is shown to nobody.
_ABOUT = {
    "invitation": "invitation", "reminder": "invitation", "connected": "invitation",
    "access-revoked": "connection", "digest": "staff", "password-reset": "account",
    "proxy-invitation": "proxy_invitation", "proxy-reminder": "proxy_invitation", "proxy-ending": "proxy",
    "proxy-ended": "proxy",
}
# For each: of these pks, the ones of a practice.
_OURS = {
    "invitation": lambda practice, pks: Invitation.objects.filter(practice=practice, pk__in=pks).values_list("pk"),
    "connection": lambda practice, pks: Connection.objects.filter(practice=practice, pk__in=pks).values_list("pk"),
    "proxy_invitation": lambda practice, pks: ProxyInvitation.objects.filter(practice=practice, pk__in=pks
                                                                             ).values_list("pk"),
    "proxy": lambda practice, pks: Proxy.objects.filter(practice=practice, pk__in=pks).values_list("pk"),
    "staff": lambda practice, pks: StaffMember.objects.filter(practice=practice, pk__in=pks).values_list("pk"),
    "account": lambda practice, pks: Connection.objects.filter(practice=practice, account__in=pks,
                                                               ended_at=None).values_list("account"),
}


def _sent_by(staff: StaffMember):
    """The mailbox's `sent` scope: which of some Message pks the staff member's practice sent. Two
    practices can both have a patient's address on file; each sees only its own mail to it."""

    def sent(message_pks: set[int]) -> set[int]:
        about = defaultdict(lambda: defaultdict(list))  # what it is about -> {that object's pk: [message pks]}
        for pk, kind, dedupe_key in Message.objects.filter(pk__in=message_pks).values_list("pk", "kind", "dedupe_key"):
            prefix, _, rest = dedupe_key.partition(":")
            subject = rest.split(":")[0]
            if kind in _ABOUT and prefix == kind and subject.isdigit():
                about[_ABOUT[kind]][int(subject)].append(pk)
        return {pk for what, subjects in about.items()
                for (subject,) in _OURS[what](staff.practice_id, list(subjects)) for pk in subjects[subject]}

    return sent
