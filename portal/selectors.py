"""What the patient portal reads. Everything starts from the account's live connections, so a
connection the practice ends disappears from the portal on the very next request."""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from access.models import Connection
from access.selectors import connections_for_account
from clinic.models import Appointment


def account_for_email(email: str):
    """The portal account an invitation's address belongs to (the same rule the accept action uses)."""
    return get_user_model().objects.filter(username__iexact=email).select_related("staff").first()


def practices_for(account) -> QuerySet[Connection]:
    """The account's live connections, each with `upcoming`: that patient's appointments from now on."""
    upcoming = (
        Appointment.objects.filter(starts_at__gte=timezone.now())
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("doctor__user")
    )
    return connections_for_account(account).order_by("practice__name", "pk").prefetch_related(
        Prefetch("patient__appointments", queryset=upcoming, to_attr="upcoming")
    )


def connection_for(account, connection_id: int) -> Connection | None:
    """One of the account's own live connections, or None (another account's id looks missing)."""
    return connections_for_account(account).filter(pk=connection_id).first()
