"""Changes to clinic records that touch portal access rules."""

from django.db import transaction

from access import actions
from access.history import NO_CLIENT, Client
from clinic import validation
from clinic.models import Patient, StaffMember

CONTACT_FIELDS = ("email", "ssn", "date_of_birth", "phone")


@transaction.atomic(durable=True)
def update_patient(patient: Patient, *, by: StaffMember | None, client: Client = NO_CLIENT, **changes) -> Patient:
    """Save new demographics. A changed email revokes a pending invitation (recorded), so access
    never goes to an old address. `changes` must already be clean (see clinic.forms)."""
    # The same lock as every access action takes first (access.actions._lock): patient row, then
    # invitation, then practice; FOR NO KEY UPDATE lets rows pointing at the patient be inserted meanwhile.
    locked = Patient.objects.select_for_update(of=("self",), no_key=True).select_related("practice").get(
        pk=patient.pk)
    email_changed = "email" in changes and not validation.same_email(changes["email"] or "", locked.email or "")
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.full_clean(exclude=["practice", "doctor"])
    locked.save()
    if email_changed:
        actions.revoke_pending_after_email_change(locked, by=by, client=client)
    return locked
