"""What proxy access reads (issue 21): the people a portal account acts for, and the grants on a
patient's own record. Everything starts from the account, and from ACTIVE grants only, read on every
request: a grant revoked or ended is gone from the very next page."""

import datetime
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from access import proxy_rules, rules
from access.eligibility import local_today
from access.models import Connection, Proxy, ProxyInvitation
from clinic.models import Appointment, Patient, StaffMember
from clinic.selectors import OtherPractice

LIVE = (Proxy.Status.INVITED, Proxy.Status.ACTIVE)


def active_grants_of(account) -> QuerySet[Proxy]:
    """The people `account` acts for, by first name."""
    return (Proxy.objects.filter(account=account, status=Proxy.Status.ACTIVE)
            .select_related("patient", "practice").order_by("patient__first_name", "patient__last_name", "pk"))


def active_grant(account, proxy_id) -> Proxy | None:
    """One of the account's own active grants, or None (another account's id, or a revoked one, looks missing)."""
    if not str(proxy_id).isdigit() or len(str(proxy_id)) > 18:
        return None
    return active_grants_of(account).filter(pk=int(proxy_id)).first()


def upcoming_appointments(patient, *, now=None) -> QuerySet[Appointment]:
    """A patient's appointments from now on, not cancelled, soonest first (what a proxy sees of them)."""
    return (Appointment.objects.filter(patient=patient, starts_at__gte=now or timezone.now())
            .exclude(status=Appointment.Status.CANCELLED).select_related("doctor__user").order_by("starts_at"))


def grants_on_my_records(account) -> QuerySet[Connection]:
    """The account's live connections (its own patient records), each with `grants`: the live grants on
    that patient (invited or active), each with `pending`, its pending invitation if any."""
    pending = ProxyInvitation.objects.filter(status=ProxyInvitation.Status.PENDING)
    grants = (Proxy.objects.filter(status__in=LIVE).order_by("created_at", "pk")
              .prefetch_related(Prefetch("invitations", queryset=pending, to_attr="pending")))
    return (Connection.objects.filter(account=account, ended_at__isnull=True).select_related("practice", "patient")
            .order_by("connected_at", "pk").prefetch_related(Prefetch("patient__proxies", queryset=grants,
                                                                       to_attr="grants")))


def grant_on_my_record(account, proxy_id) -> tuple[Connection, Proxy] | None:
    """A live grant on one of the account's own records, with that connection; None for anything else
    (another patient's grant, an ended one, a made-up id): the page then says nothing about it."""
    if not str(proxy_id).isdigit() or len(str(proxy_id)) > 18:
        return None
    proxy = Proxy.objects.filter(pk=int(proxy_id), status__in=LIVE).select_related("patient").first()
    if proxy is None:
        return None
    connection = (Connection.objects.filter(account=account, patient_id=proxy.patient_id, ended_at__isnull=True)
                  .select_related("practice", "patient", "account").first())
    return (connection, proxy) if connection else None


def my_connection(account, connection_id) -> Connection | None:
    """One of the account's own live connections (another's id looks missing)."""
    if not str(connection_id).isdigit() or len(str(connection_id)) > 18:
        return None
    return (Connection.objects.filter(pk=int(connection_id), account=account, ended_at__isnull=True)
            .select_related("practice", "patient", "account").first())


def language_for_proxy_link(token_hash: str) -> str:
    """The language of the patient a proxy link is about (the chart's, else the practice's), or ""."""
    invitation = ProxyInvitation.objects.filter(token_hash=token_hash).select_related(
        "proxy__patient__practice").first()
    return invitation.proxy.patient.language if invitation else ""


def practice_id_for_proxy_link(token_hash: str) -> int | None:
    return ProxyInvitation.objects.filter(token_hash=token_hash).values_list("practice_id", flat=True).first()


def grant_from_link(account, token_hash: str) -> Proxy | None:
    """The account's active grant accepted with this link, if it is the one that used it."""
    if not account.is_authenticated:
        return None
    return Proxy.objects.filter(account=account, status=Proxy.Status.ACTIVE,
                                invitations__token_hash=token_hash).first()


def is_adult(patient) -> bool:
    """Old enough to invite a caregiver: the practice's age at which a guardian's access ends, on its
    date (the same rule access.actions.caregivers applies)."""
    practice = patient.practice
    born = patient.date_of_birth
    return born is not None and rules.age_on(local_today(practice), born) >= practice.proxy_ends_at_age


# --- the staff side: Portal Access and the API list a patient's proxies -------------------------------

# What staff read for a proxy, as for a patient's invitation: a link pending, expired or locked,
# access active, revoked, or ended (the patient came of age).
PENDING, EXPIRED, LOCKED, ACTIVE, REVOKED, ENDED = "pending", "expired", "locked", "active", "revoked", "ended"


@dataclass(frozen=True)
class ProxyRow:
    proxy: Proxy
    state: str
    since: datetime.datetime  # accepted, else invited; for an ended grant, when it ended
    link: ProxyInvitation | None  # the newest link

    @property
    def can_revoke(self) -> bool:
        return self.state in (PENDING, EXPIRED, LOCKED, ACTIVE)

    @property
    def can_resend(self) -> bool:
        return self.state in (PENDING, EXPIRED, LOCKED)


def proxy_rows(patient: Patient, *, kind: str | None = None) -> list[ProxyRow]:
    """The patient's proxies (of `kind`), live ones first, then newest first, with each one's state
    (two queries)."""
    now = timezone.now()
    proxies = Proxy.objects.filter(patient=patient).prefetch_related(
        Prefetch("invitations", queryset=ProxyInvitation.objects.order_by("-sent_at", "-pk"))).order_by("-created_at", "-pk")
    if kind:
        proxies = proxies.filter(kind=kind)
    rows = [_row(p, now) for p in proxies]
    return sorted(rows, key=lambda r: not (r.can_revoke))  # stable: newest first within each group


def _row(proxy: Proxy, now: datetime.datetime) -> ProxyRow:
    links = list(proxy.invitations.all())
    link = links[0] if links else None
    if proxy.status == Proxy.Status.ACTIVE:
        return ProxyRow(proxy, ACTIVE, proxy.accepted_at or proxy.created_at, link)
    if proxy.status in (Proxy.Status.REVOKED, Proxy.Status.ENDED):
        return ProxyRow(proxy, REVOKED if proxy.status == Proxy.Status.REVOKED else ENDED,
                        proxy.ended_at or proxy.created_at, link)
    if link is not None and link.status == ProxyInvitation.Status.LOCKED:
        state = LOCKED
    elif link is not None and link.status == ProxyInvitation.Status.PENDING and link.expires_at > now:
        state = PENDING
    else:  # lapsed (swept or not yet)
        state = EXPIRED
    return ProxyRow(proxy, state, proxy.created_at, link)


def guardians_allowed(patient: Patient) -> tuple[bool, int | None]:
    """(whether the patient is of an age to have parents or guardians invited, their age or None)."""
    age = proxy_rules.age_of(patient.date_of_birth, local_today(patient.practice))
    return age is None or age < patient.practice.proxy_ends_at_age, age


def proxy_for(staff: StaffMember, patient: Patient, proxy_id: int) -> Proxy:
    """The patient's proxy with this id (the patient already checked to be of the staff member's
    practice); otherwise 404, and another practice's proxy id recorded (OtherPractice) like its other ids."""
    if proxy := Proxy.objects.select_related("practice", "patient__practice").filter(pk=proxy_id, patient=patient).first():
        return proxy
    practice_id = Proxy.objects.filter(pk=proxy_id).values_list("practice_id", flat=True).first()
    if practice_id is not None and practice_id != staff.practice_id:
        raise OtherPractice(staff, "proxy", proxy_id)
    raise Http404("No such proxy")


PROXY_LINK_MAIL = ("proxy-invitation", "proxy-reminder")  # mail.Message kinds carrying a proxy's link


def unwanted_proxy_mail(messages: list) -> list[int]:
    """Of messages the mail worker is about to send, the ids of proxy links that must no longer go: the
    link is no longer pending (revoked by a resend, accepted, lapsed, ended at 18), or, for the first
    email, a reminder since reissued it. The link's id is in the dedupe key ("proxy-invitation:<id>"). One query."""
    about = {m.pk: (m.kind, int(m.dedupe_key.split(":")[1])) for m in messages if m.kind in PROXY_LINK_MAIL}
    if not about:
        return []
    now = timezone.now()
    live = dict(ProxyInvitation.objects.filter(pk__in={pk for _, pk in about.values()},
                                               status=ProxyInvitation.Status.PENDING, expires_at__gt=now)
                .values_list("pk", "reminded_at"))
    return [message for message, (kind, link) in about.items()
            if link not in live or (kind == "proxy-invitation" and live[link] is not None)]
