"""Read-only questions about portal access. The portal state is derived from invitations and
connections in SQL, so a list of 100,000 patients can be filtered by it without storing it twice."""

from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from access.eligibility import ELIGIBLE
from access.models import AccessEvent, Connection, Invitation
from clinic.models import Patient


class PortalState:
    NOT_ELIGIBLE = "not_eligible"
    NOT_INVITED = "not_invited"
    PENDING = "pending"
    CONNECTED = "connected"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LOCKED = "locked"
    DISCONNECTED = "disconnected"

    LABELS = {
        NOT_ELIGIBLE: "Not eligible",
        NOT_INVITED: "Not invited",
        PENDING: "Pending",
        CONNECTED: "Connected",
        EXPIRED: "Expired",
        REVOKED: "Revoked",
        LOCKED: "Locked",
        DISCONNECTED: "Disconnected",
    }
    CHOICES = list(LABELS.items())


def with_portal_state(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Annotate `portal_state` (a PortalState value) and `invitation_expires_at` on each patient."""
    now = timezone.now()
    latest = Invitation.objects.filter(patient=OuterRef("pk")).order_by("-sent_at", "-id")
    latest_connection = Connection.objects.filter(patient=OuterRef("pk")).order_by("-connected_at", "-id")
    S = Invitation.Status
    return patients.annotate(
        latest_status=Subquery(latest.values("status")[:1]),
        invitation_expires_at=Subquery(latest.values("expires_at")[:1]),
        is_connected=Exists(Connection.objects.filter(patient=OuterRef("pk"), ended_at__isnull=True)),
        last_end_reason=Subquery(latest_connection.values("end_reason")[:1]),
    ).annotate(
        portal_state=Case(
            When(is_connected=True, then=Value(PortalState.CONNECTED)),
            When(Q(latest_status=S.PENDING, invitation_expires_at__gt=now), then=Value(PortalState.PENDING)),
            When(Q(latest_status=S.PENDING) | Q(latest_status=S.EXPIRED), then=Value(PortalState.EXPIRED)),
            When(latest_status=S.LOCKED, then=Value(PortalState.LOCKED)),
            When(latest_status=S.REVOKED, then=Value(PortalState.REVOKED)),
            When(Q(latest_status=S.ACCEPTED, last_end_reason=Connection.EndReason.DISCONNECTED),
                 then=Value(PortalState.DISCONNECTED)),
            When(latest_status=S.ACCEPTED, then=Value(PortalState.REVOKED)),
            When(ELIGIBLE, then=Value(PortalState.NOT_INVITED)),
            default=Value(PortalState.NOT_ELIGIBLE),
            output_field=CharField(),
        )
    )


def portal_state(patient: Patient) -> str:
    return with_portal_state(Patient.objects.filter(pk=patient.pk)).values_list("portal_state", flat=True).get()


def current_invitation(patient: Patient) -> Invitation | None:
    return patient.invitations.order_by("-sent_at", "-id").first()


def live_connection(patient: Patient) -> Connection | None:
    return patient.connections.filter(ended_at__isnull=True).first()


def access_history(patient: Patient) -> QuerySet[AccessEvent]:
    """Newest first, with the actor loaded (one query however many events)."""
    return patient.access_events.select_related("actor").order_by("-at", "-id")


def connections_for_account(account) -> QuerySet[Connection]:
    return Connection.objects.filter(account=account, ended_at__isnull=True).select_related("practice", "patient")
