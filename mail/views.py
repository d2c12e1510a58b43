from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from clinic.decorators import staff_required
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
    return render(request, "mail/mailbox.html", {"messages_caught": mailbox.caught_mail(),
                                                 "folder": settings.PORTICO_MAILBOX_DIR})


@mailbox_enabled
@login_required
@staff_required
def mailbox_message(request, key: str):
    caught = mailbox.one(key)
    if caught is None:
        raise Http404("No such message")
    return render(request, "mail/mailbox_message.html", {"caught": caught})
