"""What the patient portal reads. Everything starts from the account's live connections, so a
connection the practice ends disappears from the portal on the very next request."""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from access import tokens
from access.models import AccountLanguage, Connection, EmailConfirmation, Invitation
from access.selectors import live_connections_of
from clinic.models import Appointment, Practice


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
    return live_connections_of(account).order_by("practice__name", "pk").prefetch_related(
        Prefetch("patient__appointments", queryset=upcoming, to_attr="upcoming")
    )


def connection_for(account, connection_id: int) -> Connection | None:
    """One of the account's own live connections, or None (another account's id looks missing)."""
    return live_connections_of(account).filter(pk=connection_id).first()


def practice_for_link(token: str) -> Practice | None:
    """The practice that sent an invitation link (or printed a code), whatever became of it (for a dead link's page)."""
    if (lookup := tokens.invitation_lookup(token)) is None:
        return None
    invitation = Invitation.objects.filter(**lookup).select_related("practice").first()
    return invitation.practice if invitation else None


def language_for_link(token: str) -> str:
    """The language of the patient an invitation link was sent to (or a code printed for: the chart's,
    else the practice's), whatever became of the invitation; "" for a link that is not one of ours."""
    if (lookup := tokens.invitation_lookup(token)) is None:
        return ""
    invitation = Invitation.objects.filter(**lookup).select_related("patient__practice").first()
    return invitation.patient.language if invitation else ""


def language_of_account(account) -> str:
    """The language of an account's emails: its own choice, else its first practice's patient's."""
    if chosen := AccountLanguage.objects.filter(account=account).values_list("language", flat=True).first():
        return chosen
    connection = live_connections_of(account).select_related("patient__practice").order_by("connected_at").first()
    return connection.patient.language if connection else ""


def connection_for_link(account, token: str) -> Connection | None:
    """The account's live connection made with this invitation link, if it is the one that used it."""
    if not account.is_authenticated or (lookup := tokens.invitation_lookup(token)) is None:
        return None
    return live_connections_of(account).filter(**{f"invitation__{k}": v for k, v in lookup.items()}).first()


def practice(practice_id: int | None) -> Practice | None:
    return Practice.objects.filter(pk=practice_id).first() if practice_id else None


def live_connections(account) -> QuerySet[Connection]:
    """The account's live connections, oldest first (the account page and "you are connected")."""
    return live_connections_of(account).order_by("connected_at", "pk")


def confirmed_email(invitation: Invitation, confirmation_id: int | None) -> str:
    """The address the patient confirmed with a code for this invitation and has not used yet, or ""
    (the accept action checks it again, and how recent it is)."""
    if confirmation_id is None:
        return ""
    return EmailConfirmation.objects.filter(pk=confirmation_id, invitation=invitation, confirmed_at__isnull=False,
                                            used_at__isnull=True).values_list("email", flat=True).first() or ""


def waiting_email_confirmation(invitation: Invitation, confirmation_id: int | None) -> EmailConfirmation | None:
    """A code this browser asked to be sent for this invitation, not yet confirmed."""
    if confirmation_id is None:
        return None
    return EmailConfirmation.objects.filter(pk=confirmation_id, invitation=invitation, confirmed_at__isnull=True).first()
