from functools import wraps

from django.http import Http404


def staff_required(view):
    """Only practice staff pass; a signed-in patient gets a 404, as if the page did not exist.
    Put it under @login_required. Sets request.staff (the StaffMember)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        staff = getattr(request.user, "staff", None)
        if staff is None:
            raise Http404("Not a staff page")
        request.staff = staff
        return view(request, *args, **kwargs)

    return wrapper
