"""A patient's portal access as staff see it: the state, what is missing, the latest invitation or the
live connection, and which buttons can work. The one read behind the chart's Portal Access, the
appointment window and the API's portal_access endpoint."""

from dataclasses import dataclass
from functools import cached_property

from django.utils.translation import gettext

from access import eligibility
from access.actions.acceptance import MAX_IDENTITY_CHECKS
from access.actions.sending import ACCESS, INVITATION
from access.models import Connection, Invitation
from access.selectors import PortalState, current_invitation, live_connection, practice_day, with_portal_state
from clinic.models import Patient


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
        blocked = gettext("Not eligible yet: add the missing details listed below.")
    elif state == PortalState.PENDING:
        blocked = gettext("An invitation is already pending. Use Resend invitation to email a new link.")
    elif state == PortalState.CONNECTED:
        blocked = gettext("This patient is already connected to the portal.")
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


class PortalAccess:
    """One patient's portal access. The state comes in one query; the rest is read when first asked
    for, so a chart tab that shows only the state pays for nothing more."""

    max_identity_checks = MAX_IDENTITY_CHECKS  # wrong answers before a link locks (the pages say so)

    def __init__(self, patient: Patient):
        self.patient = patient
        self.state, self.expires_at, self.email_failed, self.text_failed = (
            with_portal_state(Patient.objects.filter(pk=patient.pk), **practice_day(patient.practice))
            .values_list("portal_state", "invitation_expires_at", "email_failed", "text_failed").get()
        )  # expires_at: of the latest invitation, whatever its state; email/text_failed: a pending one's

    @property
    def label(self) -> str:
        return PortalState.label(self.state)

    @property
    def is_pending(self) -> bool:
        return self.state == PortalState.PENDING

    @cached_property
    def missing(self) -> list[str]:
        """What the patient needs on file before they can be invited, in words ([] when eligible)."""
        return eligibility.missing_requirements(self.patient)

    @cached_property
    def invitation(self) -> Invitation | None:
        """The latest invitation, whatever its state (None if never invited)."""
        return current_invitation(self.patient) if self.state != PortalState.NOT_INVITED else None

    @cached_property
    def connection(self) -> Connection | None:
        return live_connection(self.patient) if self.state == PortalState.CONNECTED else None

    @cached_property
    def print_missing(self) -> list[str]:
        """What the patient needs on file before an invitation can be printed: no email needed."""
        return eligibility.missing_for_print(self.patient)

    @property
    def print_blocked(self) -> str:
        """Why Print invitation cannot work now, in words ("" if it can); the action still decides."""
        if self.print_missing:
            return gettext("Cannot print yet: %(missing)s.") % {"missing": "; ".join(self.print_missing)}
        if self.state == PortalState.CONNECTED:
            return gettext("This patient is already connected to the portal.")
        return ""

    @cached_property
    def choices(self) -> StaffChoices:
        return staff_choices(self.state, self.missing)

    @property
    def revoke_target(self) -> str | None:
        """What Revoke would end now (sending.INVITATION or sending.ACCESS); None if nothing. The
        confirmation names it; the action still decides."""
        if self.choices.can_revoke_invite:
            return INVITATION
        return ACCESS if self.choices.can_revoke_access else None


def portal_access(patient: Patient) -> PortalAccess:
    return PortalAccess(patient)
