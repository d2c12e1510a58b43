"""A proxy's side of proxy access (issue 21): the invitation link a parent, guardian or caregiver
opens, their identity check, and accepting with a new or existing account."""

from django.http import Http404


def landing(request, token: str):
    """The proxy invitation link (access.ProxyInvitation). Not yet built: every link is unknown."""
    raise Http404
