from functools import wraps

from django.http import Http404
from django.utils.cache import add_never_cache_headers

from clinic.models import StaffMember


def staff_required(view):
    """Only practice staff pass; a signed-in patient gets a 404, as if the page did not exist.
    Put it under @login_required. Sets request.staff (the StaffMember). Every staff page shows
    patient data, so no browser or proxy may keep a copy (Cache-Control: no-store, private)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        staff = getattr(request.user, "staff", None)
        if staff is None:
            raise Http404("Not a staff page")
        request.staff = staff
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapper


def practice_admin_required(view):
    """Only the practice's admins pass; other staff get a 404 like any page they cannot use.
    Put it under @staff_required."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.staff.role != StaffMember.Role.ADMIN:
            raise Http404("Not a page for this role")
        return view(request, *args, **kwargs)

    return wrapper
