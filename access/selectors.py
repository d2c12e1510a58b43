"""Read-only questions about portal access. The portal state is derived from invitations and
connections in SQL, so a list of 100,000 patients can be filtered by it without storing it twice."""

from dataclasses import dataclass

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


@dataclass(frozen=True)
class StaffChoices:
    """Which Portal Access buttons can work in a state. Pages use it to enable and explain buttons;
    access.actions still decides (and refuses in the same words) if a stale page posts anyway."""

    enable_blocked: str  # why Enable Patient Access cannot work now; "" if it can
    can_revoke_invite: bool
    can_revoke_access: bool
    can_resend: bool


def staff_choices(state: str, missing: list[str]) -> StaffChoices:
    if missing:
        blocked = "Not eligible yet: add the missing details listed below."
    elif state == PortalState.PENDING:
        blocked = "An invitation is already pending. Use Resend invitation to email a new link."
    elif state == PortalState.CONNECTED:
        blocked = "This patient is already connected to the portal."
    else:
        blocked = ""
    return StaffChoices(
        enable_blocked=blocked,
        can_revoke_invite=state == PortalState.PENDING,
        can_revoke_access=state == PortalState.CONNECTED,
        # Resend = revoke what is pending + send. With nothing pending it would be a plain send, which
        # Enable Patient Access already offers: one button per next step, never two doing the same.
        can_resend=state == PortalState.PENDING,
    )


def with_portal_state(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Annotate `portal_state` (a PortalState value), `invitation_expires_at` and `last_invited_at`
    (of the latest invitation) and `email_failed` (a pending invitation's email failed for good)."""
    now = timezone.now()
    latest = Invitation.objects.filter(patient=OuterRef("pk")).order_by("-sent_at", "-id")
    latest_connection = Connection.objects.filter(patient=OuterRef("pk")).order_by("-connected_at", "-id")
    S = Invitation.Status
    return patients.annotate(
        latest_status=Subquery(latest.values("status")[:1]),
        invitation_expires_at=Subquery(latest.values("expires_at")[:1]),
        last_invited_at=Subquery(latest.values("sent_at")[:1]),
        email_failed=Exists(_failed_emails().filter(patient=OuterRef("pk"))),
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


def in_portal_state(patients: QuerySet[Patient], state: str, *, practice_id: int) -> QuerySet[Patient]:
    """`with_portal_state(patients)` narrowed to one state. It first keeps only patients whose
    invitations or connections could put them in that state, found through the (much smaller)
    invitation and connection tables of the practice, so the per-patient state is worked out for
    those few rather than for every patient of a large practice (see bench/patient_list.py)."""
    narrowed = with_portal_state(patients.filter(_could_be_in(state, practice_id)))
    return narrowed if state in _DECIDED_BY_CANDIDACY else narrowed.filter(portal_state=state)


NEEDS_ATTENTION = "needs_attention"  # a filter of the patient list, not a state
NEEDS_ATTENTION_LABEL = "Needs attention"


def needing_attention(patients: QuerySet[Patient], *, practice_id: int) -> QuerySet[Patient]:
    """`with_portal_state(patients)` narrowed to those staff should act on: a locked or expired link,
    or a pending invitation whose email could not be delivered. Narrowed first through the
    practice's invitations, as in_portal_state is."""
    failed = _failed_emails().filter(practice_id=practice_id).values("patient_id")
    candidates = _could_be_in(PortalState.LOCKED, practice_id) | _could_be_in(PortalState.EXPIRED, practice_id)
    return with_portal_state(patients.filter(candidates | Q(pk__in=failed))).filter(
        Q(portal_state__in=[PortalState.LOCKED, PortalState.EXPIRED]) | Q(portal_state=PortalState.PENDING,
                                                                          email_failed=True))


def _failed_emails() -> QuerySet[Invitation]:
    """Pending invitations whose email failed for good (mail.delivery gave up; history says so)."""
    return Invitation.objects.filter(status=Invitation.Status.PENDING, events__action=AccessEvent.Action.EMAIL_FAILED)


# States the candidate condition alone decides: a live connection and a pending invitation never
# coexist, and a patient never invited is "not invited" or "not eligible" by eligibility alone.
_DECIDED_BY_CANDIDACY = {PortalState.CONNECTED, PortalState.PENDING, PortalState.NOT_INVITED, PortalState.NOT_ELIGIBLE}


def _could_be_in(state: str, practice_id: int) -> Q:
    """A necessary condition for `state`; with_portal_state then decides exactly."""
    now, S = timezone.now(), Invitation.Status
    invitations = Invitation.objects.filter(practice_id=practice_id)
    connections = Connection.objects.filter(practice_id=practice_id)
    candidates = {
        PortalState.CONNECTED: connections.filter(ended_at__isnull=True),
        PortalState.PENDING: invitations.filter(status=S.PENDING, expires_at__gt=now),
        PortalState.EXPIRED: invitations.filter(Q(status=S.EXPIRED) | Q(status=S.PENDING, expires_at__lte=now)),
        PortalState.LOCKED: invitations.filter(status=S.LOCKED),
        PortalState.REVOKED: invitations.filter(status__in=[S.REVOKED, S.ACCEPTED]),
        PortalState.DISCONNECTED: connections.filter(end_reason=Connection.EndReason.DISCONNECTED),
    }
    if state in candidates:
        return Q(pk__in=candidates[state].values("patient_id"))
    never_invited = ~Exists(Invitation.objects.filter(patient=OuterRef("pk")))
    return never_invited & (ELIGIBLE if state == PortalState.NOT_INVITED else ~ELIGIBLE)


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
