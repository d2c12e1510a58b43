"""The Django admin is for operators only: the people who run Portico, created with
`manage.py createsuperuser` and tied to no practice. It shows every practice's records, so a practice
login (a user with a StaffMember) is never let in, even if someone made it a superuser; practice staff
use the staff pages, which scope everything to their practice. Its sign-in counts against the same
limits as every other sign-in: the access app mixes its throttle into OperatorSignInForm when it is
ready (access/apps.py), as portico imports no app."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm


def is_practice_staff(user) -> bool:
    return hasattr(user, "staff")


class OperatorSignInForm(AdminAuthenticationForm):
    """The admin's sign-in: is_staff required, and never a practice login (throttled by access)."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if is_practice_staff(user):
            raise self.get_invalid_login_error()  # the same answer as a wrong password


class OperatorAdminSite(admin.AdminSite):
    login_form = OperatorSignInForm

    def has_permission(self, request):
        return super().has_permission(request) and not is_practice_staff(request.user)
