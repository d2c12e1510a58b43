"""Who may see the patient portal, and how its invitation pages keep the token out of sight."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404


def patient_required(view):
    """A signed-in patient passes. Anyone else is sent to the patient sign-in, and a staff login gets a
    404: staff have no patient portal, just as patients have no staff pages."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if hasattr(request.user, "staff"):
            raise Http404("Not a patient page")
        return view(request, *args, **kwargs)

    return login_required(wrapper, login_url="portal:login")


def no_referrer(view):
    """Send `Referrer-Policy: no-referrer` (SecurityMiddleware only sets the header when it is absent)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return wrapper
