"""Parents and guardians of minors, as staff manage them (issue 21): invite, resend, revoke, record a
teen's agreement to full access. Each is one transaction with its history event and outbox mail, in
the one lock order: the patient acted for, then their Proxy rows, then the proxies' invitations.

The proxy's own side (the link page, the identity check, accepting) is access.actions.proxy_acceptance;
the work nobody starts (expiry, reminders, birthdays) is access.actions.proxy_periodic."""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from access import errors, history, proxy_rules, tokens
from access.actions.languages import accounts_languages
from access.actions.notifications import notify_many
from access.actions.sending import invite_ttl
from access.actions.steps import lock_patient, staff_actor
from access.eligibility import local_today
from access.history import Actor, record
from access.models import AccessEvent, Proxy, ProxyInvitation
from clinic.models import Patient, StaffMember
from mail import messages as mail
from portico.bulk import among
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")
Action = AccessEvent.Action
LIVE = (Proxy.Status.INVITED, Proxy.Status.ACTIVE)
DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Guardian:
    """Who staff invite, as the form cleaned it: names, relationship (proxy_rules.GUARDIAN_RELATIONSHIPS),
    email and mobile number in E.164 (either may be empty: the refusal then says it is missing)."""

    first_name: str
    last_name: str
    relationship: str
    email: str
    mobile_phone: str

    @property
    def described(self) -> str:
        """"Jordan Rivera (mother)", as history and pages name a proxy."""
        return f"{self.first_name} {self.last_name} ({self.relationship})"


@dataclass(frozen=True)
class SentProxyInvitation:
    proxy: Proxy
    invitation: ProxyInvitation
    token: str  # only returned to the caller and sealed into the outbox; never stored in clear


def described(proxy: Proxy) -> str:
    return f"{proxy.full_name} ({proxy.relationship})"


@transaction.atomic(durable=True)
def invite_guardian(patient: Patient, guardian: Guardian, *, by: StaffMember, teen_agreed: bool = False,
                    client: Client = NO_CLIENT) -> SentProxyInvitation:
    """Invite a parent or guardian for a minor: refused (raising proxy_rules' error, nothing written)
    unless the patient's date of birth is on file and they are under the practice's end age, the
    guardian's email and mobile number are given, that address has no live access or pending link for
    this patient, and fewer than 5 links went to it for this patient in 24 hours. The level follows the
    age (proxy_rules.default_level); `teen_agreed` records who and when staff noted the teen's agreement
    to full access (only from the limited-from age: younger, full is the default)."""
    if guardian.relationship not in proxy_rules.GUARDIAN_RELATIONSHIPS:
        raise ValidationError({"relationship": gettext("Choose the parent's or guardian's relationship to the patient.")},
                              code="relationship")
    patient = lock_patient(patient)
    now = timezone.now()
    expire_proxy_links(Q(proxy__patient=patient), now)
    practice = patient.practice
    age = proxy_rules.age_of(patient.date_of_birth, local_today(practice))
    live = _live_for(patient, guardian.email)
    facts = proxy_rules.GuardianFacts(
        age=age, ends_at_age=practice.proxy_ends_at_age, has_email=bool(guardian.email),
        has_mobile=bool(guardian.mobile_phone), active=live is not None and live.status == Proxy.Status.ACTIVE,
        pending=live is not None and live.status == Proxy.Status.INVITED,
        sent_in_last_day=_sent_in_last_day(patient, guardian.email, now))
    if (refusal := proxy_rules.refusal(facts)) is not None:
        raise refusal
    agreed = teen_agreed and age >= practice.proxy_limited_from_age
    level = proxy_rules.default_level(age, limited_from_age=practice.proxy_limited_from_age, teen_agreed=agreed)
    proxy = Proxy.objects.create(
        practice=practice, patient=patient, kind=Proxy.Kind.GUARDIAN, first_name=guardian.first_name,
        last_name=guardian.last_name, relationship=guardian.relationship, email=guardian.email,
        mobile_phone=guardian.mobile_phone, level=level, teen_agreement_by=by if agreed else None,
        teen_agreement_at=now if agreed else None, invited_by=by, created_at=now)
    sent = send_link(proxy, by=by, now=now)
    record(practice, Action.PROXY_INVITED, actor=staff_actor(by), patient=patient, proxy=proxy, client=client,
           reason=_reason(described(proxy), f"{level} access" + (", the teen agreed" if agreed else "")))
    log.info("proxy %s invited for patient %s", proxy.pk, patient.pk)
    return sent


@transaction.atomic(durable=True)
def resend_proxy_invitation(proxy: Proxy, *, by: StaffMember, client: Client = NO_CLIENT) -> SentProxyInvitation:
    """A new link for a guardian who has not accepted (pending, expired or locked): the pending one, if
    any, is revoked in the same step. Refused, changing nothing, once they accepted or their access
    ended, when the patient has come of age, or past the daily cap."""
    patient = lock_patient(proxy.patient)
    proxy = _lock(proxy)
    now = timezone.now()
    expire_proxy_links(Q(proxy=proxy), now)
    if proxy.status == Proxy.Status.ACTIVE:
        raise errors.ProxyAlreadyActive()
    if proxy.status != Proxy.Status.INVITED:
        raise errors.ProxyNotLive()
    facts = proxy_rules.GuardianFacts(
        age=proxy_rules.age_of(patient.date_of_birth, local_today(patient.practice)),
        ends_at_age=patient.practice.proxy_ends_at_age, has_email=bool(proxy.email),
        has_mobile=bool(proxy.mobile_phone), sent_in_last_day=_sent_in_last_day(patient, proxy.email, now))
    if (refusal := proxy_rules.refusal(facts)) is not None:
        raise refusal
    ProxyInvitation.objects.filter(proxy=proxy, status=ProxyInvitation.Status.PENDING).update(
        status=ProxyInvitation.Status.REVOKED, closed_at=now)
    proxy.patient = patient
    sent = send_link(proxy, by=by, now=now)
    record(patient.practice, Action.PROXY_INVITED, actor=staff_actor(by), patient=patient, proxy=proxy,
           client=client, reason=_reason(described(proxy), "resent: the previous link no longer works"))
    return sent


@transaction.atomic(durable=True)
def revoke_proxy(proxy: Proxy, *, by: StaffMember, reason: str = "", client: Client = NO_CLIENT) -> Proxy:
    """End any proxy's access (a guardian's or a caregiver's), or their pending link: one conditional
    UPDATE, so a concurrent accept either lands first (and is ended here) or finds the grant revoked.
    Takes effect on the proxy's next request; their own account and other grants stay. A proxy whose
    access was active is told by email (one only invited just finds the link dead). Refused (nothing
    changed) when it has already ended."""
    lock_patient(proxy.patient)
    was_active = _lock(proxy).status == Proxy.Status.ACTIVE  # after the patient: an accept has landed or waits
    now = timezone.now()
    if not Proxy.objects.filter(pk=proxy.pk, status__in=LIVE).update(
            status=Proxy.Status.REVOKED, ended_at=now, end_reason=Proxy.EndReason.REVOKED_BY_STAFF):
        raise errors.ProxyNotLive()
    ProxyInvitation.objects.filter(proxy=proxy, status=ProxyInvitation.Status.PENDING).update(
        status=ProxyInvitation.Status.REVOKED, closed_at=now)
    proxy.refresh_from_db()
    record(proxy.practice, Action.PROXY_REVOKED, actor=staff_actor(by), patient=proxy.patient, proxy=proxy,
           client=client, reason=_reason(described(proxy), reason))
    if was_active:
        mail.queue_proxy_revoked(proxy, language=proxy_language(proxy))
    log.info("proxy %s revoked", proxy.pk)
    return proxy


@transaction.atomic(durable=True)
def record_teen_agreement(proxy: Proxy, *, by: StaffMember, client: Client = NO_CLIENT) -> Proxy:
    """Staff note the teen's agreement to a guardian's full access (who and when): a limited guardian
    becomes full, recorded. Refused once the access ended, and before the practice's limited-from age
    (a younger child's guardian is full anyway; an agreement noted then would outlast the birthday)."""
    patient = lock_patient(proxy.patient)
    now = timezone.now()
    age = proxy_rules.age_of(patient.date_of_birth, local_today(patient.practice))
    if age is None or age < patient.practice.proxy_limited_from_age:
        raise errors.GuardianNotEligible([proxy_rules.not_a_teen(patient.practice.proxy_limited_from_age)])
    if not Proxy.objects.filter(pk=proxy.pk, status__in=LIVE, kind=Proxy.Kind.GUARDIAN).update(
            level=Proxy.Level.FULL, teen_agreement_by=by, teen_agreement_at=now):
        raise errors.ProxyNotLive()
    before = proxy.level
    proxy.refresh_from_db()
    record(proxy.practice, Action.PROXY_LEVEL_CHANGED, actor=staff_actor(by), patient=proxy.patient, proxy=proxy,
           client=client, reason=_reason(described(proxy), f"{before} → full: the teen agreed"))
    return proxy


# --- steps ----------------------------------------------------------------------------------------------

def send_link(proxy: Proxy, *, by: StaffMember | None, now: datetime.datetime,
              reinvite_number: int = 0) -> SentProxyInvitation:
    """A new link for the proxy, emailed (a step of the actions here and of the re-invites)."""
    token = tokens.new_token()
    invitation = ProxyInvitation.objects.create(
        proxy=proxy, practice=proxy.practice, token_hash=tokens.hash_token(token, tokens.PROXY_INVITATION),
        sent_by=by, sent_at=now, expires_at=now + invite_ttl(proxy.practice), reinvite_number=reinvite_number)
    mail.queue_proxy_invitations([(invitation, token)])
    return SentProxyInvitation(proxy, invitation, token)


def proxy_language(proxy: Proxy) -> str:
    """The language of an email to a proxy (its patient loaded): see proxies_languages."""
    return proxies_languages([proxy])[proxy.pk]


def proxies_languages(proxies: list[Proxy]) -> dict[int, str]:
    """The language of an email to each proxy (their patients loaded), by proxy id: the one a proxy
    with an account chose on it, else the patient's (the language the proxy's invitation came in)."""
    chosen = accounts_languages(p.account_id for p in proxies if p.account_id)
    return {p.pk: chosen.get(p.account_id) or p.patient.language for p in proxies}


def _lock(proxy: Proxy) -> Proxy:
    return Proxy.objects.select_for_update(of=("self",), no_key=True).select_related("practice").get(pk=proxy.pk)


def _live_for(patient: Patient, email: str) -> Proxy | None:
    return Proxy.objects.filter(patient=patient, email__iexact=email, status__in=LIVE).first() if email else None


def _sent_in_last_day(patient: Patient, email: str, now: datetime.datetime) -> int:
    """Links and reminders sent to this address for this patient in the last 24 hours (the daily cap)."""
    if not email:
        return 0
    counts = ProxyInvitation.objects.filter(proxy__patient=patient, proxy__email__iexact=email).aggregate(
        sent=Count("pk", filter=Q(sent_at__gt=now - DAY)), reminded=Count("pk", filter=Q(reminded_at__gt=now - DAY)))
    return counts["sent"] + counts["reminded"]


def _reason(*parts: str) -> str:
    return "; ".join(p for p in parts if p)[:200]


def expire_proxy_links(which: Q, now: datetime.datetime, *, chain_now: bool = False) -> int:
    """Close the lapsed pending proxy links among `which` as expired (at their expiry), each recorded
    and the sender told; returns how many. Every action does it first for the proxies it touches, the
    periodic sweep (proxy_periodic) for all. The rows are locked in id order and closed in one UPDATE."""
    lapsed = list(ProxyInvitation.objects.select_for_update(of=("self",), no_key=True)
                  .filter(which, status=ProxyInvitation.Status.PENDING, expires_at__lte=now).order_by("id")
                  .values_list("pk", "practice_id", "proxy_id", "proxy__patient_id", "sent_by_id", named=True))
    if not lapsed:
        return 0
    ProxyInvitation.objects.filter(pk__in=among(i.pk for i in lapsed)).update(
        status=ProxyInvitation.Status.EXPIRED, closed_at=F("expires_at"))
    history.append([history.new_event(i.practice_id, Action.PROXY_LINK_EXPIRED, actor=Actor.system(),
                                      patient=i.proxy__patient_id, proxy=i.proxy_id) for i in lapsed],
                   chain_now=chain_now)
    notify_many([(i.practice_id, i.proxy__patient_id, i.sent_by_id) for i in lapsed],
                gettext_noop("A parent's or guardian's invitation for {name} expired without being accepted."), now,
                summary=gettext_noop("{count} parent or guardian invitations expired without being accepted."))
    return len(lapsed)


def notify_proxy_accepted(proxy_ids: list[int]) -> None:
    """The bell when a proxy accepted: whoever invited them and the patient's doctor (else the admins),
    naming both people. Called by access.receivers for every PROXY_ACCEPTED history event, in the
    accepting transaction: the proxy's side only has to record that event (with `proxy=`)."""
    now = timezone.now()
    for proxy in Proxy.objects.filter(pk__in=among(proxy_ids)).order_by("pk"):
        # In the staff pages' language (notifications.staff_words); the proxy's name goes in first, braces
        # kept literal, and notify_many fills in the patient's ({name}).
        with translation.override(settings.LANGUAGE_CODE):
            text = gettext(gettext_noop("{proxy} accepted access to {name}'s portal.")).replace(
                "{proxy}", described(proxy).replace("{", "{{").replace("}", "}}"))
        notify_many([(proxy.practice_id, proxy.patient_id, proxy.invited_by_id)], text, now, summary=text)
