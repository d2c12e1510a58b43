"""Telling staff what happened: bell notifications (one by one, or one summary past a few patients)
and the daily digest email of those not yet read."""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from access.models import Invitation
from clinic.models import Notification, Patient, StaffMember
from mail import messages as mail
from portico.bulk import among


def staff_words(text: str, **words) -> str:
    """A notification's text (marked with gettext_noop, naming its words as {name}, {count}...) in the
    staff pages' language, settings.LANGUAGE_CODE: it is stored as written, and the event may come from
    a patient's page in another language (a Spanish page accepting an invitation)."""
    with translation.override(settings.LANGUAGE_CODE):
        return gettext(text).format(**words)


def notify_staff(invitation: Invitation, text: str, **words) -> None:
    """Tell whoever sent the invitation and the patient's doctor (once each); if neither (sent by
    Portico itself, no doctor), the practice's admins. `text` names the patient as {name} (staff_words)."""
    text = staff_words(text, name=invitation.patient.full_name, **words)
    recipients = {m for m in (invitation.sent_by_id, invitation.patient.doctor_id) if m is not None}
    if not recipients:
        recipients = set(_admins_of([invitation.practice_id]).get(invitation.practice_id, []))
    Notification.objects.bulk_create(
        Notification(recipient_id=m, patient=invitation.patient, text=text, created_at=timezone.now())
        for m in sorted(recipients)
    )


# One batch (of the sweep: up to 5,000; of delivered mail) tells a staff member of at most this many patients one by one;
# beyond it, one notification says how many, so 10,000 lapsed invitations do not bury the bell.
NOTIFY_ONE_BY_ONE_UP_TO = 5


def notify_many(about: list[tuple[int, int, int | None]], text: str, now: datetime.datetime, *, summary: str) -> None:
    """notify_staff for many (practice id, patient id, sender id) at once, `text` naming the patient as
    {name}; a recipient concerned by more than NOTIFY_ONE_BY_ONE_UP_TO of them gets one `summary`
    instead ({count} patients). Both marked with gettext_noop (staff_words). Three queries however many."""
    with translation.override(settings.LANGUAGE_CODE):
        text, summary = gettext(text), gettext(summary)
    patients = {pk: (f"{first} {last}", doctor) for pk, first, last, doctor in Patient.objects.filter(
        pk__in=among({patient for _, patient, _ in about})).values_list("pk", "first_name", "last_name", "doctor_id")}
    admins = _admins_of(sorted({practice for practice, patient, sender in about
                                if sender is None and patients[patient][1] is None}))
    told: dict[int, list[int]] = {}
    for practice, patient, sender in about:
        for member in {m for m in (sender, patients[patient][1]) if m is not None} or set(admins.get(practice, [])):
            told.setdefault(member, []).append(patient)
    notifications = []
    for member, concerning in sorted(told.items()):
        if len(concerning) > NOTIFY_ONE_BY_ONE_UP_TO:
            notifications.append(Notification(recipient_id=member, text=summary.format(count=len(concerning)),
                                              created_at=now))
        else:
            notifications += [Notification(recipient_id=member, patient_id=patient, created_at=now,
                                           text=text.format(name=patients[patient][0])) for patient in concerning]
    Notification.objects.bulk_create(notifications)


def _admins_of(practice_ids: list[int]) -> dict[int, list[int]]:
    """Practice id -> its admins' StaffMember ids (no query for no practice)."""
    admins: dict[int, list[int]] = {}
    if practice_ids:
        for practice, member in StaffMember.objects.filter(practice_id__in=practice_ids, role=StaffMember.Role.ADMIN
                                                           ).values_list("practice_id", "pk").order_by("pk"):
            admins.setdefault(practice, []).append(member)
    return admins


DIGEST_EVERY = datetime.timedelta(days=1)


@transaction.atomic(durable=True)
def send_digests() -> int:
    """Email each staff member who asked for it (StaffMember.daily_digest) the notifications not yet in
    a digest, at most once every DIGEST_EVERY. Each notification is marked digested in the same
    transaction, so none is in two digests. Returns how many digests were queued (five queries)."""
    now = timezone.now()
    undigested = Notification.objects.filter(recipient=OuterRef("pk"), digested_at__isnull=True)
    staff = list(StaffMember.objects.select_for_update(of=("self",)).filter(
        Exists(undigested), Q(last_digest_at__isnull=True) | Q(last_digest_at__lte=now - DIGEST_EVERY),
        daily_digest=True).exclude(user__email="").select_related("user", "practice").order_by("pk"))
    if not staff:
        return 0
    notifications: dict[int, list[Notification]] = {}
    for n in (Notification.objects.select_for_update(of=("self",)).filter(recipient__in=staff, digested_at__isnull=True)
              .select_related("patient").order_by("created_at", "pk")):
        notifications.setdefault(n.recipient_id, []).append(n)
    mail.queue_digests([(member, notifications[member.pk]) for member in staff])
    Notification.objects.filter(pk__in=[n.pk for listed in notifications.values() for n in listed]).update(digested_at=now)
    StaffMember.objects.filter(pk__in=[m.pk for m in staff]).update(last_digest_at=now)
    return len(staff)
