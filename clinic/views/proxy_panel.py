"""The Parents and guardians (or Caregivers) part of the chart's Portal Access page (issue 21)."""

from access.models import Proxy
from access.proxy_selectors import guardians_allowed, proxy_rows
from clinic.proxy_forms import GuardianForm


def proxies_context(patient, form: GuardianForm | None = None) -> dict:
    """What Portal Access shows of the people acting for the patient: for a minor (or a patient whose
    age is unknown) the parents and guardians and the form to invite one; for an adult, caregivers."""
    allowed, age = guardians_allowed(patient)
    practice = patient.practice
    teen = age is not None and practice.proxy_limited_from_age <= age < practice.proxy_ends_at_age
    return {
        "guardians_allowed": allowed, "teen": teen,
        "guardians": proxy_rows(patient, kind=Proxy.Kind.GUARDIAN) if allowed else [],
        "caregivers": [] if allowed else proxy_rows(patient, kind=Proxy.Kind.CAREGIVER),
        "guardian_form": form or (GuardianForm(teen=teen) if allowed else None),
    }
