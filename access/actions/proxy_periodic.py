"""The proxy work nobody starts (issue 21), run by ops.periodic each round, set-wise: lapsed proxy
links closed, reminders before expiry, and the patients' birthdays, judged on each practice's date:

- at the practice's end age (18) every guardian's access to that patient ends (Proxy ENDED, reason
  turned_18, recorded, pending links revoked, the guardian emailed, staff told) and the patient, if
  eligible and the practice invites automatically, is sent their own invitation (sending.send_many);
- 30 days before it, each active guardian is told once (Proxy.ending_notice_at);
- at the limited-from age (12) a full guardian without the teen's recorded agreement turns limited;
- a guardian whose link lapsed unanswered is sent a new one by the practice's re-invite settings.

Ending races a guardian accepting at that moment: the patient rows are locked first (the one lock
order), and the grants are ended with one conditional UPDATE over every live status, so an accept
either committed first (its grant is ended here) or finds the grant ended (its own conditional UPDATE
of an invited grant matches nothing)."""

import datetime
import logging

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from access import history, proxy_rules, tokens
from access.actions.automatic import SCHEDULED_BATCH, _in_batches
from access.actions.notifications import notify_many
from access.actions.proxies import LIVE, described, expire_proxy_links, proxies_languages, send_link
from access.actions.sending import send_many
from access.actions.steps import lock_patients
from access.eligibility import latest_birth_date
from access.history import Actor
from access.models import AccessEvent, Channel, Proxy, ProxyInvitation
from clinic.models import Practice
from mail import messages as mail
from portico.bulk import among, update_rows
from portico.client import NO_CLIENT

log = logging.getLogger("portico.access")
Action = AccessEvent.Action
DAY = datetime.timedelta(days=1)


def expire_proxy_invitations(*, batch: int = SCHEDULED_BATCH) -> int:
    """Close every lapsed pending proxy link as expired, recorded; returns how many."""
    count = 0
    while expired := _expire_batch(batch):
        count += expired
    return count


@transaction.atomic(durable=True)
def _expire_batch(batch: int) -> int:
    now = timezone.now()
    lapsed = ProxyInvitation.objects.filter(status=ProxyInvitation.Status.PENDING, expires_at__lte=now).order_by("id")
    return expire_proxy_links(Q(pk__in=among(lapsed.values_list("pk", flat=True)[:batch])), now, chain_now=True)


# --- reminders before expiry (the practice's reminder_days_before, as for patients) ------------------

def send_proxy_reminders(*, batch: int = SCHEDULED_BATCH) -> int:
    """One reminder per pending proxy link, the practice's N days before it expires, reissuing the link
    (the earlier one dies, recorded). Returns how many were sent."""
    return _in_batches(_remind_batch, batch)


def _reminder_due(now: datetime.datetime) -> Q:
    days = Q()
    for n in range(1, 30):  # one term per possible N, as access.actions.automatic._reminder_due
        before = datetime.timedelta(days=n)
        days |= Q(practice__reminder_days_before=n, expires_at__lte=now + before, sent_at__lt=F("expires_at") - before)
    return Q(status=ProxyInvitation.Status.PENDING, reminded_at__isnull=True, expires_at__gt=now) & days


@transaction.atomic(durable=True)
def _remind_batch(size: int, after: int) -> tuple[int, int | None]:
    now = timezone.now()
    due = list(ProxyInvitation.objects.filter(_reminder_due(now), pk__gt=after).order_by("pk")
               .values_list("pk", "proxy__patient_id")[:size])
    if not due:
        return 0, None
    lock_patients([patient for _, patient in due])  # the one lock order: patients, then the links
    invitations = list(ProxyInvitation.objects.select_for_update(of=("self",), no_key=True)
                       .filter(_reminder_due(now), pk__in=among(pk for pk, _ in due))
                       .select_related("practice", "proxy__patient", "proxy__practice").order_by("pk"))
    # No cap check: a reminder is due a whole day or more after its link was sent (N < the lifetime, both
    # in days), and one address has one live grant per patient, so 5 links in 24 hours cannot precede it.
    chosen = invitations
    links = {i.pk: tokens.new_token() for i in chosen}
    update_rows(ProxyInvitation, ["token_hash"],
                [(tokens.hash_token(links[i.pk], tokens.PROXY_INVITATION), i.pk) for i in chosen])
    ProxyInvitation.objects.filter(pk__in=links).update(reminded_at=now)
    history.append([history.new_event(i.practice_id, Action.PROXY_LINK_REISSUED, actor=Actor.system(),
                                      patient=i.proxy.patient_id, proxy=i.proxy_id, reason=described(i.proxy))
                    for i in chosen])
    mail.queue_proxy_invitations([(i, links[i.pk]) for i in chosen], reminder=True)
    return len(chosen), due[-1][0] if len(due) == size else None


# --- re-invites (the practice's reinvite_after_days and reinvite_max, as for patients) -------------------

def reinvite_proxies(*, batch: int = SCHEDULED_BATCH) -> int:
    """A new link for a parent or guardian whose last one lapsed unanswered, the practice's
    reinvite_after_days after it was sent, at most reinvite_max times (as automatic.send_reinvites does
    for patients); then they are left alone until staff resend. Not once the patient has reached the end
    age (the birthday work ends the grant). Returns how many were sent."""
    return _in_batches(_reinvite_batch, batch)


def _reinvite_due(now: datetime.datetime) -> QuerySet[ProxyInvitation]:
    days = Q()
    for n, _label in Practice.REINVITE_DAYS:  # one term per choice, as in automatic._reinvite_due
        days |= Q(practice__reinvite_after_days=n, sent_at__lte=now - datetime.timedelta(days=n))
    newer = ProxyInvitation.objects.filter(proxy=OuterRef("proxy"), pk__gt=OuterRef("pk"))
    return ProxyInvitation.objects.filter(
        days, status=ProxyInvitation.Status.EXPIRED, proxy__status=Proxy.Status.INVITED,
        proxy__kind=Proxy.Kind.GUARDIAN, reinvite_number__lt=F("practice__reinvite_max")).exclude(Exists(newer))


@transaction.atomic(durable=True)
def _reinvite_batch(size: int, after: int) -> tuple[int, int | None]:
    now = timezone.now()
    due = list(_reinvite_due(now).filter(pk__gt=after).order_by("pk").values_list("pk", "proxy__patient_id")[:size])
    if not due:
        return 0, None
    lock_patients([patient for _, patient in due])  # the one lock order; then re-read what is still due
    lapsed = list(_reinvite_due(now).filter(pk__in=among(pk for pk, _ in due))
                  .select_related("proxy__patient__practice", "proxy__practice").order_by("pk"))
    sent = [send_link(i.proxy, by=None, now=now, reinvite_number=i.reinvite_number + 1) for i in lapsed
            if _a_minor(i.proxy.patient, now)]
    history.append([history.new_event(s.proxy.practice_id, Action.PROXY_INVITED, actor=Actor.system(),
                                      patient=s.proxy.patient_id, proxy=s.proxy.pk, channel=Channel.AUTOMATIC,
                                      reason=f"{described(s.proxy)}; re-invite {s.invitation.reinvite_number}: "
                                             "the previous link was not accepted") for s in sent])
    return len(sent), due[-1][0] if len(due) == size else None


def _a_minor(patient, now: datetime.datetime) -> bool:
    """Under the practice's end age on its date (no date of birth: not known to be, so no)."""
    today = timezone.localdate(now, timezone=patient.practice.tzinfo)
    age = proxy_rules.age_of(patient.date_of_birth, today)
    return age is not None and age < patient.practice.proxy_ends_at_age


# --- birthdays ------------------------------------------------------------------------------------------

def run_proxy_birthdays() -> dict[str, int]:
    """The birthday work for every practice with a live guardian, each on its own date: ended, told in
    advance, turned limited. One transaction per practice and kind; returns the counts."""
    now = timezone.now()
    counts = {"ended": 0, "ending_notices": 0, "limited": 0}
    practice_ids = (Proxy.objects.filter(kind=Proxy.Kind.GUARDIAN, status__in=LIVE)
                    .values_list("practice_id", flat=True).distinct().order_by("practice_id"))
    for practice in Practice.objects.filter(pk__in=list(practice_ids)).order_by("pk"):
        today = timezone.localdate(now, timezone=practice.tzinfo)
        counts["ended"] += end_at_age(practice, today)
        counts["ending_notices"] += tell_before_ending(practice, today)
        counts["limited"] += limit_at_age(practice, today)
    return counts


def _guardians(practice: Practice, born_by: datetime.date):
    """The practice's live guardian grants of patients born on or before `born_by`."""
    return Proxy.objects.filter(practice=practice, kind=Proxy.Kind.GUARDIAN, status__in=LIVE,
                                patient__date_of_birth__lte=born_by)


@transaction.atomic(durable=True)
def end_at_age(practice: Practice, today: datetime.date) -> int:
    """End every guardian's access to the practice's patients who are the end age on `today` (or
    older: a round missed on the day still ends them). Returns how many grants ended."""
    now = timezone.now()
    born_by = latest_birth_date(today, practice.proxy_ends_at_age)
    patient_ids = sorted(set(_guardians(practice, born_by).values_list("patient_id", flat=True)))
    if not patient_ids:
        return 0
    patients = lock_patients(patient_ids)
    # Locked after the patients: a grant accepted meanwhile is read as it now is (active), and ended too.
    proxies = list(Proxy.objects.select_for_update(of=("self",), no_key=True)
                   .filter(practice=practice, kind=Proxy.Kind.GUARDIAN, status__in=LIVE, patient__in=among(patient_ids))
                   .select_related("patient", "practice").order_by("pk"))
    Proxy.objects.filter(pk__in=among(p.pk for p in proxies), status__in=LIVE).update(
        status=Proxy.Status.ENDED, ended_at=now, end_reason=Proxy.EndReason.TURNED_18)
    ProxyInvitation.objects.filter(proxy__in=among(p.pk for p in proxies), status=ProxyInvitation.Status.PENDING
                                   ).update(status=ProxyInvitation.Status.REVOKED, closed_at=now)
    # The patients whose grants ended here (one revoked meanwhile is not news, nor a reason to invite).
    ended = sorted({p.patient_id for p in proxies})
    age = practice.proxy_ends_at_age
    history.append([history.new_event(practice, Action.PROXY_ENDED, actor=Actor.system(), patient=p.patient_id,
                                      proxy=p.pk, at=now, reason=f"{described(p)}; the patient turned {age}")
                    for p in proxies])
    active = [p for p in proxies if p.status == Proxy.Status.ACTIVE]
    mail.queue_proxy_ending(active, ends_on={}, languages=proxies_languages(active), ended=True)
    notify_many([(practice.pk, pk, None) for pk in ended],
                gettext_noop("{name} came of age: parents' and guardians' access to their portal ended by itself."), now,
                summary=gettext_noop("{count} patients came of age: their parents' and guardians' access ended by "
                                     "itself."))
    if practice.auto_invite != Practice.AutoInvite.OFF:
        send_many([p for p in patients if p.pk in ended], by=None, channel=Channel.AUTOMATIC, client=NO_CLIENT,
                  reason=f"Automatic: turned {age}")
    log.info("practice %s: %s guardian grant(s) ended at %s", practice.pk, len(proxies), age)
    return len(proxies)


@transaction.atomic(durable=True)
def tell_before_ending(practice: Practice, today: datetime.date) -> int:
    """Email each active guardian once, ENDING_NOTICE_DAYS before the patient's end-age birthday (or
    at once when accepted later than that). One conditional UPDATE marks them told."""
    now = timezone.now()
    born_by = latest_birth_date(today + datetime.timedelta(days=proxy_rules.ENDING_NOTICE_DAYS),
                                practice.proxy_ends_at_age)
    due = list(_guardians(practice, born_by).filter(status=Proxy.Status.ACTIVE, ending_notice_at__isnull=True)
               .select_for_update(of=("self",), no_key=True).select_related("patient", "practice").order_by("pk"))
    if not due:
        return 0
    Proxy.objects.filter(pk__in=among(p.pk for p in due), ending_notice_at__isnull=True).update(ending_notice_at=now)
    ends_on = {p.pk: proxy_rules.turns(p.patient.date_of_birth, practice.proxy_ends_at_age) for p in due}
    mail.queue_proxy_ending(due, ends_on=ends_on, languages=proxies_languages(due))
    history.append([history.new_event(practice, Action.PROXY_ENDING_NOTICE, actor=Actor.system(),
                                      patient=p.patient_id, proxy=p.pk, at=now,
                                      reason=f"{described(p)}; ends {ends_on[p.pk]:%-d %b %Y}") for p in due])
    return len(due)


@transaction.atomic(durable=True)
def limit_at_age(practice: Practice, today: datetime.date) -> int:
    """Turn limited every full guardian of a patient who is the limited-from age on `today` (or older)
    and whose agreement to full access staff did not record."""
    now = timezone.now()
    born_by = latest_birth_date(today, practice.proxy_limited_from_age)
    due = list(_guardians(practice, born_by).filter(level=Proxy.Level.FULL, teen_agreement_at__isnull=True)
               .select_for_update(of=("self",), no_key=True).order_by("pk"))
    if not due:
        return 0
    Proxy.objects.filter(pk__in=among(p.pk for p in due), level=Proxy.Level.FULL).update(level=Proxy.Level.LIMITED)
    age = practice.proxy_limited_from_age
    history.append([history.new_event(practice, Action.PROXY_LEVEL_CHANGED, actor=Actor.system(),
                                      patient=p.patient_id, proxy=p.pk, at=now,
                                      reason=f"{described(p)}; full → limited: the patient turned {age}")
                    for p in due])
    return len(due)
