"""Texting patients: the consent ledger (staff, the API and imports record it; the patient's STOP,
START and HELP replies change or read it), and the invitation and reminder texts a practice's Invite by
setting asks for, only to the number on file with consent, within the quiet hours and caps
(access.texting). Each public function is one transaction with its history and its outbox rows."""

import datetime
import logging

from django.db import transaction
from django.utils import timezone

from access import errors, history, texting
from access.actions.steps import lock_patient, staff_actor
from access.history import Actor, record
from access.models import AccessEvent, Channel, Invitation, TextConsent
from access.text_selectors import consents, latest_steps, practices_texting, recent_texts
from clinic import validation
from clinic.models import Patient, Practice, StaffMember
from portico.bulk import among
from portico.client import NO_CLIENT, Client
from sms import messages as sms
from sms import texts
from sms.models import InboundText, TextMessage

log = logging.getLogger("portico.access")
Action = AccessEvent.Action
InviteBy = Practice.InviteBy


# --- the ledger ------------------------------------------------------------------------------------

@transaction.atomic(durable=True)
def record_text_consent(patient: Patient, *, consented: bool, source: str, by: StaffMember | None,
                        number: str | None = None, client: Client = NO_CLIENT) -> TextConsent:
    """A step in the ledger of the patient's mobile number at their practice: consent given or withdrawn,
    from `source` (TextConsent.Source), by whom. `number`, if given, becomes the chart's mobile number
    first (checked like every phone). Refused without a mobile number (NoMobileNumber)."""
    _check_source(source)
    patient = lock_patient(patient)
    if number is not None:
        number = validation.normalize_phone(number)  # ValidationError: nothing changed
        if number != patient.mobile_phone:
            old, patient.mobile_phone = patient.mobile_phone, number
            patient.save(update_fields=["mobile_phone"])
            mobile_number_changed(patient, old, by=by, client=client)
    return record_consent_step(patient, consented=consented, source=source, by=by, client=client)


def record_consent_step(patient: Patient, *, consented: bool, source: str, by: StaffMember | None,
                        client: Client = NO_CLIENT) -> TextConsent:
    """record_text_consent inside the caller's transaction, the patient already locked and saved with
    the number (the Demographics page and the appointment window save details and consent at once)."""
    _check_source(source)
    if not patient.mobile_phone:
        raise errors.NoMobileNumber()
    step = TextConsent.objects.create(practice_id=patient.practice_id, patient=patient, number=patient.mobile_phone,
                                      consented=consented, source=source, recorded_by=by, at=timezone.now())
    record(patient.practice, Action.TEXT_CONSENT_GIVEN if consented else Action.TEXT_CONSENT_WITHDRAWN,
           actor=staff_actor(by), patient=patient, channel=Channel.TEXT, client=client,
           reason=f"{TextConsent.Source(source).label}, for {validation.format_phone(patient.mobile_phone)}")
    log.info("text consent %s for patient %s (%s)", "given" if consented else "withdrawn", patient.pk, source)
    return step


def mobile_number_changed(patient: Patient, old: str, *, by: StaffMember | None, client: Client = NO_CLIENT) -> None:
    """Inside the caller's transaction, the patient locked and saved with the new number: the consent
    given for the old number ends with it (a withdrawal step, recorded), so a number that comes back
    later has none until it is recorded again. Not when another chart of the practice still has the
    old number (a shared family phone keeps its consent). The new number has no consent of its own
    until a step says so."""
    for _patient, number in _end_old_numbers(patient.practice_id, [(patient, old)], by=by, at=timezone.now()):
        record(patient.practice, Action.TEXT_CONSENT_WITHDRAWN, actor=staff_actor(by), patient=patient,
               channel=Channel.TEXT, client=client, reason=_number_changed(number))


def _end_old_numbers(practice_id: int, moved: list[tuple[Patient, str]], *, by: StaffMember | None,
                     at: datetime.datetime) -> list[tuple[Patient, str]]:
    """For (patient, old number) of charts already saved with a new number: a withdrawal step for each
    old number that had consent at the practice and that no chart of it has now, in two reads and one
    INSERT however many. Returns the (patient, number) pairs whose consent ended, for their history."""
    olds = {old: patient for patient, old in moved if old}
    if not olds:
        return []
    had = consents((practice_id, old) for old in olds)
    kept = set(Patient.objects.filter(practice_id=practice_id, mobile_phone__in=among(olds))
               .values_list("mobile_phone", flat=True))
    ending = [(patient, old) for old, patient in olds.items() if had[(practice_id, old)] and old not in kept]
    TextConsent.objects.bulk_create(
        TextConsent(practice_id=practice_id, patient=patient, number=old, consented=False,
                    source=TextConsent.Source.NUMBER_CHANGED, recorded_by=by, at=at) for patient, old in ending)
    return ending


def _number_changed(number: str) -> str:
    return f"{TextConsent.Source.NUMBER_CHANGED.label}, for {validation.format_phone(number)}"


def _check_source(source: str) -> None:
    if source not in TextConsent.Source.values or source in (TextConsent.Source.REPLY, TextConsent.Source.NUMBER_CHANGED):
        raise ValueError(f"not a source staff can record: {source!r}")


# --- the patient's replies -------------------------------------------------------------------------

@transaction.atomic
def answer_text(inbound: InboundText) -> str:
    """What a patient's text asks, done at every practice that texts that number from our sender:
    STOP (and its variants) withdraws consent everywhere it was given, START restores what a STOP
    withdrew, HELP answers with each practice's name and phone. At most one reply per inbound text, and
    none when nothing changed (a second STOP). Runs in the callback's transaction; returns the reply kind."""
    reply = texting.classify(inbound.body)
    number, known = inbound.from_number, practices_texting(inbound.from_number)
    if reply is texting.Reply.OTHER or not known:
        return ""
    practices = Practice.objects.in_bulk(list(known))
    language = _language_of(known, practices)
    if reply is texting.Reply.HELP:
        contacts = [(practices[p].name, practices[p].phone_display) for p in sorted(known)]
        return _reply(TextMessage.Kind.HELP, known, number, texts.help_reply(contacts=contacts, language=language),
                      inbound)
    latest, now = latest_steps(number), timezone.now()
    if reply is texting.Reply.STOP:
        changing = [p for p in sorted(known) if p not in latest or latest[p].consented]
    else:  # START restores only what a reply took away, never a withdrawal staff recorded
        changing = [p for p in sorted(known) if p in latest and not latest[p].consented
                    and latest[p].source == TextConsent.Source.REPLY]
    if not changing:
        return ""
    consented = reply is texting.Reply.START
    keyword = inbound.body.strip()[:40]
    TextConsent.objects.bulk_create(
        TextConsent(practice_id=p, patient=known[p], number=number, consented=consented,
                    source=TextConsent.Source.REPLY, at=now, note=keyword) for p in changing)
    history.append([history.new_event(p, Action.TEXT_CONSENT_GIVEN if consented else Action.TEXT_CONSENT_WITHDRAWN,
                                      actor=Actor.system(), patient=known[p],
                                      channel=Channel.TEXT, reason=f"The patient replied “{keyword}”", at=now)
                    for p in changing])
    names = [practices[p].name for p in changing]
    kind = TextMessage.Kind.OPTED_IN if consented else TextMessage.Kind.OPTED_OUT
    body = (texts.opted_in if consented else texts.opted_out)(practices=names, language=language)
    return _reply(kind, {p: known[p] for p in changing}, number, body, inbound)


def _language_of(known: dict[int, Patient | None], practices: dict[int, Practice]) -> str:
    """The language of a reply to a number: its patient's (the first practice's that has a chart on it),
    else the first practice's default."""
    patients = [known[p] for p in sorted(known) if known[p] is not None]
    return patients[0].language if patients else practices[min(known)].default_language


def _reply(kind: str, known: dict, number: str, body: str, inbound: InboundText) -> str:
    sms.queue_reply(kind, practice_id=min(known), to=number, body=body, inbound_pk=inbound.pk)
    return kind


# --- invitation and reminder texts ------------------------------------------------------------------

def texted_by(practice: Practice, *, has_email: bool) -> bool:
    """Whether the practice's Invite by setting wants a text for an invitation to this patient."""
    return practice.invite_by == InviteBy.EMAIL_AND_TEXT or (practice.invite_by == InviteBy.TEXT_WITHOUT_EMAIL
                                                             and not has_email)


def queue_invitation_texts(sent: list[tuple[Invitation, str]], *, kind: str = TextMessage.Kind.INVITATION,
                           now: datetime.datetime | None = None) -> int:
    """Inside the caller's transaction: for (invitation, token) pairs whose practice texts them, the text
    with the link, to the chart's mobile number if it has consent and the caps allow (a refusal by the
    caps is recorded: "Text not sent"); held until 08:00 during quiet hours. Returns how many were queued."""
    now = now or timezone.now()
    wanted = [(i, token) for i, token in sent if texted_by(i.practice, has_email=bool(i.email))]
    if not wanted:
        return 0
    mobiles = dict(Patient.objects.filter(pk__in=among(i.patient_id for i, _ in wanted))
                   .exclude(mobile_phone="").values_list("pk", "mobile_phone"))
    pairs = {(i.practice_id, mobiles[i.patient_id]) for i, _ in wanted if i.patient_id in mobiles}
    allowed, recent = consents(pairs), recent_texts(pairs, since=now - texting.WEEK)
    planned, events = [], []
    for invitation, token in wanted:
        number = mobiles.get(invitation.patient_id)
        if number is None or not allowed[(invitation.practice_id, number)]:
            continue  # no mobile number with consent: email only (Portal Access says what is missing)
        pair = (invitation.practice_id, number)
        if why := texting.over_cap(recent[pair], now):
            events.append(_text_event(invitation, Action.TEXT_NOT_SENT, f"Not sent: {why}", now))
            continue
        recent[pair].append(now)
        at = texting.send_at(now, invitation.practice.tzinfo)
        planned.append((invitation, token, number, at, kind))
        later = f" (held until {at.astimezone(invitation.practice.tzinfo):%-I:%M %p}: quiet hours)" if at > now else ""
        events.append(_text_event(invitation, Action.TEXT_QUEUED, f"To {validation.format_phone(number)}{later}", now))
    sms.queue_invitation_texts(planned)
    history.append(events)
    return len(planned)


def _text_event(invitation: Invitation, action: str, reason: str, now: datetime.datetime) -> AccessEvent:
    return history.new_event(invitation.practice_id, action, actor=Actor.system(), patient=invitation.patient_id,
                             invitation=invitation.pk, channel=Channel.TEXT, reason=reason[:200], at=now)



@transaction.atomic(durable=True)
def record_imported_consents(practice: Practice, rows: list[tuple[int, str, bool | None]], *,
                             by: StaffMember | None) -> int:
    """An import's mobile numbers and consent to texts, for (patient id, E.164 number, consent or None:
    the column left blank) rows of the practice: the chart's mobile number set where it differs, and a
    ledger step (source: import) where the file's consent differs from the number's consent now, so
    importing the same file again changes nothing. A number replaced on a chart loses its consent, as on
    Demographics (mobile_number_changed). Returns how many import steps were recorded."""
    ids = sorted({pk for pk, _, _ in rows})
    patients = {p.pk: p for p in Patient.objects.select_for_update(of=("self",), no_key=True)
                .filter(practice=practice, pk__in=among(ids)).order_by("pk")}
    moved, now = [], timezone.now()
    for pk, number, _ in rows:
        if patients[pk].mobile_phone != number:
            moved.append((patients[pk], patients[pk].mobile_phone))
            patients[pk].mobile_phone = number
    Patient.objects.bulk_update([patient for patient, _ in moved], ["mobile_phone"])
    ended = _end_old_numbers(practice.pk, moved, by=by, at=now)  # as on Demographics: the old number's consent ends
    now_consent = consents((practice.pk, number) for _, number, _ in rows)
    changing = [(patients[pk], number, consented) for pk, number, consented in rows
                if consented is not None and now_consent[(practice.pk, number)] != consented]
    TextConsent.objects.bulk_create(
        TextConsent(practice=practice, patient=patient, number=number, consented=consented,
                    source=TextConsent.Source.IMPORT, recorded_by=by, at=now) for patient, number, consented in changing)
    history.append([history.new_event(practice, Action.TEXT_CONSENT_GIVEN if consented else Action.TEXT_CONSENT_WITHDRAWN,
                                      actor=staff_actor(by), patient=patient, channel=Channel.TEXT, at=now,
                                      reason=f"{TextConsent.Source.IMPORT.label}, for {validation.format_phone(number)}")
                    for patient, number, consented in changing]
                   + [history.new_event(practice, Action.TEXT_CONSENT_WITHDRAWN, actor=staff_actor(by), patient=patient,
                                        channel=Channel.TEXT, at=now, reason=_number_changed(old))
                      for patient, old in ended])
    return len(changing)
