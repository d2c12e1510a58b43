"""Reads about texting patients: a number's consent now (its latest step in the ledger), the ledger of
a patient, the texts a number got recently (for the caps). Selectors only read."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import BooleanField, OuterRef, Q, Subquery
from django.db.models.lookups import Exact
from django.utils.translation import gettext_noop

from access.models import Invitation, TextConsent
from clinic.models import Patient
from portico.bulk import among
from sms.models import COUNTED, TextMessage

Pair = tuple[int, str]  # (practice id, E.164 number)


def consents(pairs: Iterable[Pair]) -> dict[Pair, bool]:
    """Each (practice, number)'s consent now: its latest ledger step (no step: no consent)."""
    pairs = set(pairs)
    found: dict[Pair, bool] = {}
    steps = (TextConsent.objects.filter(number__in=among({n for _, n in pairs}),
                                        practice_id__in=among({p for p, _ in pairs}))
             .order_by("practice_id", "number", "-at", "-id").values_list("practice_id", "number", "consented"))
    for practice_id, number, consented in steps:
        found.setdefault((practice_id, number), consented)
    return {pair: found.get(pair, False) for pair in pairs}


def latest_steps(number: str) -> dict[int, TextConsent]:
    """The number's latest ledger step at every practice that has one."""
    latest: dict[int, TextConsent] = {}
    for step in TextConsent.objects.filter(number=number).order_by("practice_id", "-at", "-id"):
        latest.setdefault(step.practice_id, step)
    return latest


def practices_texting(number: str) -> dict[int, Patient | None]:
    """Every practice that knows this number (a chart's mobile number, or a consent step), each with
    one of its patients on that number (None if no chart has it now). One sender texts for them all."""
    known: dict[int, Patient | None] = {p: None for p in TextConsent.objects.filter(number=number)
                                        .values_list("practice_id", flat=True)}
    for patient in Patient.objects.filter(mobile_phone=number).select_related("practice").order_by("pk"):
        if known.get(patient.practice_id) is None:
            known[patient.practice_id] = patient
    return known


def ledger(patient: Patient) -> list[TextConsent]:
    """The patient's mobile number's consent steps at their practice, newest first, with who recorded each."""
    if not patient.mobile_phone:
        return []
    return list(TextConsent.objects.filter(practice_id=patient.practice_id, number=patient.mobile_phone)
                .select_related("recorded_by__user"))


def recent_texts(pairs: Iterable[Pair], *, since: datetime.datetime) -> dict[Pair, list[datetime.datetime]]:
    """When each (practice, number) was texted since `since` (texts that went out or may still go)."""
    pairs, found = set(pairs), {}
    rows = (TextMessage.objects.filter(COUNTED, created_at__gt=since, to__in=among({n for _, n in pairs}),
                                       practice_id__in=among({p for p, _ in pairs}))
            .values_list("practice_id", "to", "created_at"))
    for practice_id, number, at in rows:
        found.setdefault((practice_id, number), []).append(at)
    return {pair: found.get(pair, []) for pair in pairs}


def unwanted_texts(texts: list[TextMessage]) -> list[int]:
    """Of claimed texts, those that must no longer go: an invitation or reminder text whose invitation
    is no longer pending, or whose number is no longer the chart's mobile number or lost its consent.
    Replies to the patient (confirmations, help) always go."""
    about = [t for t in texts if t.invitation_id is not None]
    if not about:
        return []
    invitations = {i.pk: i for i in Invitation.objects.filter(pk__in=among(t.invitation_id for t in about))
                   .values_list("pk", "status", "practice_id", "patient__mobile_phone", named=True)}
    allowed = consents((t.practice_id, t.to) for t in about)
    return [t.pk for t in about if (i := invitations.get(t.invitation_id)) is None
            or i.status != Invitation.Status.PENDING or i.patient__mobile_phone != t.to
            or not allowed[(t.practice_id, t.to)]]


CAN_TEXT = gettext_noop("Can be invited by text: needs a mobile number with consent")  # pages translate it


@dataclass(frozen=True)
class TextingSummary:
    """What Portal Access shows about texting one patient."""

    mobile_phone: str
    consented: bool
    ledger: list[TextConsent]
    texts: list[TextMessage]  # the latest texts to that number from the practice, newest first
    invite_by: str

    @property
    def can_be_texted(self) -> bool:
        return bool(self.mobile_phone) and self.consented


def texting_summary(patient: Patient, *, latest: int = 5) -> TextingSummary:
    steps = ledger(patient)
    texts = list(TextMessage.objects.filter(practice_id=patient.practice_id, to=patient.mobile_phone)
                 .order_by("-created_at", "-id")[:latest]) if patient.mobile_phone else []
    return TextingSummary(mobile_phone=patient.mobile_phone, consented=bool(steps) and steps[0].consented,
                          ledger=steps, texts=texts, invite_by=patient.practice.invite_by)


def textable_without_email(patient_ids) -> set[int]:
    """Of these patients, those without an email whose practice invites by text when there is none and
    whose mobile number has consent: they can be invited by text alone."""
    rows = list(Patient.objects.filter(pk__in=patient_ids, email="", practice__invite_by="text_without_email")
                .exclude(mobile_phone="").values_list("pk", "practice_id", "mobile_phone"))
    allowed = consents((practice, number) for _, practice, number in rows)
    return {pk for pk, practice, number in rows if allowed[(practice, number)]}


def consented_now() -> Q:
    """Patients whose mobile number's latest consent step at their practice is a consent, as a query."""
    latest = (TextConsent.objects.filter(practice_id=OuterRef("practice_id"), number=OuterRef("mobile_phone"))
              .order_by("-at", "-id").values("consented")[:1])
    return Q(Exact(Subquery(latest, output_field=BooleanField()), True))
