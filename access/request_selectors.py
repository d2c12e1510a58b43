"""What the staff pages and the API read about requests for portal access: the open queue with the
charts each request matches, one request, and the open count for the navigation. Reads only."""

import unicodedata
from dataclasses import dataclass, field

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery

from access.models import AccessRequest
from clinic import selectors as clinic_selectors
from clinic.models import Notification, Patient, StaffMember

NO_MATCH, ONE_MATCH, POSSIBLE_DUPLICATES = "no_match", "one_match", "possible_duplicates"
MATCH_LABELS = {NO_MATCH: "No match", ONE_MATCH: "One match", POSSIBLE_DUPLICATES: "Possible duplicates"}


def name_key(name: str) -> str:
    """A name as matching compares it: case, accents, hyphens, apostrophes and spaces ignored
    ("Zoë O'Brien-Smith" and "zoe obrien smith" are the same)."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).casefold()


@dataclass
class Matched:
    """A request with the practice's charts that match it (date of birth exactly, names by name_key)."""

    request: AccessRequest
    charts: list[Patient] = field(default_factory=list)

    @property
    def match(self) -> str:
        return NO_MATCH if not self.charts else ONE_MATCH if len(self.charts) == 1 else POSSIBLE_DUPLICATES

    @property
    def match_label(self) -> str:
        return MATCH_LABELS[self.match]


def requests_of(staff: StaffMember, *, status: str | None = AccessRequest.Status.OPEN) -> QuerySet[AccessRequest]:
    """The practice's requests (open ones by default; None: all), oldest first."""
    requests = AccessRequest.objects.filter(practice_id=staff.practice_id)
    if status:
        requests = requests.filter(status=status)
    return requests.select_related("patient", "decided_by__user").order_by("created_at", "pk")


def with_matches(requests: list[AccessRequest]) -> list[Matched]:
    """Each request with its matching charts: one query for any number of requests."""
    if not requests:
        return []
    practice_ids = {r.practice_id for r in requests}
    candidates: dict[tuple, list[Patient]] = {}
    for patient in Patient.objects.filter(practice_id__in=practice_ids,
                                          date_of_birth__in={r.date_of_birth for r in requests}
                                          ).defer("ssn").order_by("pk"):  # no SSN decrypted for a list
        key = (patient.practice_id, patient.date_of_birth, name_key(patient.first_name), name_key(patient.last_name))
        candidates.setdefault(key, []).append(patient)
    return [Matched(r, candidates.get((r.practice_id, r.date_of_birth, name_key(r.first_name),
                                       name_key(r.last_name)), [])) for r in requests]


def request_for(staff: StaffMember, request_id: int) -> AccessRequest:
    """One of the practice's requests (404; OtherPractice, recorded by the edge, for another's)."""
    found = AccessRequest.objects.select_related("practice", "patient", "decided_by__user").filter(pk=request_id).first()
    return clinic_selectors.own(staff, found, request_id, "access request")


def topbar_counts(staff: StaffMember) -> dict[str, int]:
    """The bell's unread notifications and the practice's open requests, in one query (every staff page)."""
    def counted(grouped) -> Subquery:  # a queryset filtered on OuterRef and grouped by it with .values()
        return Subquery(grouped.order_by().annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField())

    unread = Notification.objects.filter(recipient=OuterRef("pk"), read_at__isnull=True).values("recipient")
    open_requests = AccessRequest.objects.filter(practice=OuterRef("practice"), status=AccessRequest.Status.OPEN
                                                 ).values("practice")
    row = StaffMember.objects.filter(pk=staff.pk).annotate(
        unread=counted(unread), open_requests=counted(open_requests)).values("unread", "open_requests").first()
    return {"unread": (row or {}).get("unread") or 0, "open_requests": (row or {}).get("open_requests") or 0}
