"""Audit events that are not about an invitation: staff signing in and out, and a staff member probing
another practice's ids."""

import logging

from django.db import transaction

from access.history import Actor, record
from access.models import AccessEvent
from clinic.models import StaffMember
from portico.client import Client

log = logging.getLogger("portico.access")


@transaction.atomic
def record_staff_session(member: StaffMember, *, signed_in: bool, client: Client) -> None:
    """A staff member signed in (or out): recorded in their practice's history."""
    action = AccessEvent.Action.STAFF_SIGNED_IN if signed_in else AccessEvent.Action.STAFF_SIGNED_OUT
    record(member.practice, action, actor=Actor.staff(member), client=client)


@transaction.atomic
def record_foreign_id(staff: StaffMember, kind: str, record_id: int, *, client: Client) -> None:
    """`staff` asked for a record of another practice (answered 404): recorded in their own practice's
    history, so probing shows up in the audit trail."""
    log.warning("staff %s asked for %s %s of another practice", staff.pk, kind, record_id)
    record(staff.practice, AccessEvent.Action.FOREIGN_ID, actor=Actor.staff(staff),
           outcome=AccessEvent.Outcome.FAILURE, reason=f"{kind} {record_id}", client=client)
