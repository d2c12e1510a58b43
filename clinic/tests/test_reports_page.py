"""The Reports page and its worklist: who sees what, the period, CSV equal to the page, another
practice's doctor a 404 (recorded), and Invite / Invite all eligible through the ordinary send path."""

import csv
import datetime
import io
import re
import zoneinfo
from html.parser import HTMLParser

import pytest
import time_machine
from django.urls import reverse

from access import reports
from access.models import AccessEvent, Invitation
from access.tests.helpers import connect
from clinic import services
from clinic.models import Appointment, Patient, StaffMember

NY = zoneinfo.ZoneInfo("America/New_York")
URL = reverse("clinic:reports")
NOW = datetime.datetime(2026, 11, 19, 9, 0, tzinfo=NY)  # Thursday


def at(day, hour=10, month=11):
    return datetime.datetime(2026, month, day, hour, tzinfo=NY)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def manager(cast, django_user_model):
    user = django_user_model.objects.create_user(username="manager", password="staff-password-123")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)


@pytest.fixture
def drew(cast, django_user_model):
    user = django_user_model.objects.create_user(username="drew", last_name="Drake")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.DOCTOR)


@pytest.fixture
def other_doctor(cast, django_user_model):
    user = django_user_model.objects.create_user(username="olga", last_name="Other")
    return StaffMember.objects.create(user=user, practice=cast.other_practice, role=StaffMember.Role.DOCTOR)


def visit(cast, patient, when, doctor=None):
    """A completed visit, through the ordinary path (which keeps the report's summary)."""
    return services.complete_appointment(appointment=Appointment.objects.create(
        practice=patient.practice, patient=patient, doctor=doctor or cast.dora, starts_at=when,
        ends_at=when + datetime.timedelta(minutes=30)), by=None)


def patient(cast, n, **details):
    return Patient.objects.create(practice=cast.practice, doctor=cast.dora, chart_number=f"A-{300 + n}", **{
        "first_name": f"Quinn{n}", "last_name": f"Lee{n}", "email": f"q{n}@example.test", "ssn": "123456789",
        **details})


@pytest.fixture
def history(cast, drew):
    """November so far: Pat seen by Dora and connected; Ned (no email) and Quinn0 seen by Drew, not invited."""
    visit(cast, cast.pat, at(2))
    with time_machine.travel(at(3), tick=False):
        connect(cast)
    visit(cast, cast.ned, at(4), doctor=drew)
    visit(cast, patient(cast, 0), at(5), doctor=drew)


class Tables(HTMLParser):
    """The cells of each <table data-table="..."> on a page, as text."""

    def __init__(self):
        super().__init__()
        self.tables, self.current, self.row, self.cell = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "data-table" in attrs:
            self.current = self.tables.setdefault(attrs["data-table"], [])
        elif self.current is not None and tag == "tr":
            self.row = []
        elif self.row is not None and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(" ".join(self.cell.split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if len(self.row) > 1 or self.current == []:
                self.current.append(self.row)
            self.row = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def page_tables(html: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def test_it_requires_login_and_a_role(client, cast):
    assert client.get(URL).status_code == 302
    client.force_login(cast.alice.user)  # front desk
    assert client.get(URL).status_code == 404
    assert client.get(reverse("clinic:worklist")).status_code == 404
    client.force_login(cast.bob.user)
    assert client.get(URL).status_code == 404


def test_an_admin_sees_the_practice_and_every_table_downloads_as_on_the_page(client, cast, manager, history):
    client.force_login(manager.user)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "is the EHR's" in html and "Reports" in html
    tables = page_tables(html)
    assert set(tables) == {"funnel", "stops", "channels", "ages", "languages", "doctors", "connected", "measure",
                           "missed"}
    assert tables["languages"][0] == ["Language", "Patients", "Eligible", "Never offered", "Invited", "Connected"]
    assert tables["measure"][1:] == [["Dr. Dorsey", "1", "1", "100%", "0", "0", "0", "0"],
                                     ["Dr. Drake", "0", "2", "0%", "0", "1", "0", "1"]]
    assert [row[5] for row in tables["missed"][1:]] == ["No email", "Not invited within 4 business days"]
    assert 'data-testid="missed-more"' not in html  # every missed patient is on the page
    for key, rows in tables.items():
        download = client.get(reverse("clinic:report-csv", args=[key]))
        assert download["Content-Type"].startswith("text/csv")
        assert csv_rows(download) == rows, key


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode())))


def test_the_page_lists_the_first_missed_patients_and_the_csv_every_one(client, cast, manager, drew, history,
                                                                        monkeypatch):
    for n in range(1, 5):
        visit(cast, patient(cast, n), at(6), doctor=drew)  # Drew: 6 missed; Dora: none
    monkeypatch.setattr(reports, "MISSED_SHOWN", 2)
    client.force_login(manager.user)
    html = client.get(URL).content.decode()
    tables = page_tables(html)
    page, download = tables["missed"], csv_rows(client.get(reverse("clinic:report-csv", args=["missed"])))
    assert [row[2] for row in page[1:]] == ["Ned Stone", "Quinn0 Lee0"]  # no email first, then by last name
    assert download[:len(page)] == page  # the page's rows are the CSV's first
    assert len(download) - 1 == 6
    [_, drake] = tables["measure"][1:]
    assert sum(int(n) for n in drake[4:]) == int(drake[2]) - int(drake[1]) == len(download) - 1
    assert "Dr. Drake: 4 more not shown — download the CSV of" in " ".join(re.sub(r"<[^>]+>", "", html).split())


def test_csv_cells_that_look_like_formulas_are_written_as_text(client, cast, manager):
    visit(cast, patient(cast, 1, first_name="=HYPERLINK(1)"), at(2))
    client.force_login(manager.user)
    rows = csv_rows(client.get(reverse("clinic:report-csv", args=["missed"])))
    assert rows[1][2] == "'=HYPERLINK(1) Lee1"


def test_a_doctor_sees_only_their_own(client, cast, drew, history):
    client.force_login(drew.user)
    tables = page_tables(client.get(URL).content.decode())
    assert [row[0] for row in tables["measure"][1:]] == ["Dr. Drake"]
    assert "doctors" not in tables  # the split by doctor is the practice's
    assert client.get(URL, {"doctor": cast.dora.pk}).status_code == 404
    assert client.get(URL, {"doctor": drew.pk}).status_code == 200


def test_an_admin_chooses_a_doctor(client, cast, manager, drew, history):
    client.force_login(manager.user)
    tables = page_tables(client.get(URL, {"doctor": cast.dora.pk}).content.decode())
    assert [row[0] for row in tables["measure"][1:]] == ["Dr. Dorsey"]
    assert client.get(URL, {"doctor": cast.alice.pk}).status_code == 404  # not a doctor
    assert client.get(URL, {"doctor": "x"}).status_code == 404


def test_another_practices_doctor_is_a_404_and_recorded(client, cast, manager, other_doctor, drew):
    client.force_login(manager.user)
    assert client.get(URL, {"doctor": other_doctor.pk}).status_code == 404
    assert client.get(reverse("clinic:report-csv", args=["measure"]), {"doctor": other_doctor.pk}).status_code == 404
    client.force_login(drew.user)
    assert client.get(URL, {"doctor": other_doctor.pk}).status_code == 404
    probes = AccessEvent.objects.filter(action=AccessEvent.Action.FOREIGN_ID, practice=cast.practice)
    assert list(probes.values_list("reason", flat=True)) == [f"doctor {other_doctor.pk}"] * 3


def test_another_practices_figures_are_never_shown(client, cast, manager, other_doctor):
    visit(cast, cast.bea, at(2), other_doctor)
    client.force_login(manager.user)
    html = client.get(URL).content.decode()
    assert "Other" not in html and "Bea" not in html
    assert page_tables(html)["measure"][1:] == [] and "No completed visit in this period." in html


@pytest.mark.parametrize(("query", "label"), [
    ({"period": "last_month"}, "1 Oct 2026 – 31 Oct 2026"),
    ({"period": "quarter"}, "1 Oct 2026 – 31 Dec 2026"),
    ({"period": "year"}, "1 Jan 2026 – 31 Dec 2026"),
    ({"period": "dates", "first": "2026-11-02", "last": "2026-11-06"}, "2 Nov 2026 – 6 Nov 2026"),
    ({}, "1 Nov 2026 – 30 Nov 2026"),
])
def test_the_period(client, manager, query, label):
    client.force_login(manager.user)
    assert label in client.get(URL, query).content.decode()


def test_dates_the_wrong_way_round_say_so(client, manager):
    client.force_login(manager.user)
    response = client.get(URL, {"period": "dates", "first": "2026-11-06", "last": "2026-11-02"})
    assert response.status_code == 200
    assert response.context["form"].errors["first"] == ["Choose a first day on or before the last day."]


def test_the_charts_have_their_numbers_beside_them(client, manager, history):
    client.force_login(manager.user)
    html = client.get(URL).content.decode()
    assert len(re.findall(r'<svg role="img" aria-labelledby=', html)) == 2
    assert "Eligible: 2; Invited: 1; Link opened: 1; Identity confirmed: 1; Connected: 1" in html


# --- the worklist ---------------------------------------------------------------------------------

WORKLIST = reverse("clinic:worklist")


@pytest.fixture
def due(cast, drew):
    """Thursday 19 November: Friday 13's visits close today, Monday 16's tomorrow."""
    return {
        "pat": visit(cast, cast.pat, at(13)),
        "ned": visit(cast, cast.ned, at(13)),
        "quinn": visit(cast, patient(cast, 2), at(16), doctor=drew),
        "early": visit(cast, patient(cast, 3), at(12)),  # closed yesterday: too late for the worklist
        "later": visit(cast, patient(cast, 4), at(17)),  # closes Monday
    }


def test_the_worklist_lists_visits_closing_today_or_tomorrow(client, cast, manager, due):
    client.force_login(manager.user)
    html = client.get(WORKLIST).content.decode()
    assert [row[0] for row in page_tables_of_worklist(html)] == ["Pat Jones A-100", "Ned Stone A-101", "Quinn2 Lee2 A-302"]
    assert "Invite all eligible (2)" in html


def page_tables_of_worklist(html: str) -> list[list[str]]:
    body = html.split('data-testid="worklist"', 1)[1].split("</table>", 1)[0]
    parser = Tables()
    parser.feed('<table data-table="w">' + body + "</table>")
    return parser.tables["w"][1:]


def test_a_doctor_sees_only_their_visits_on_the_worklist(client, cast, drew, due):
    client.force_login(drew.user)
    assert [row[0] for row in page_tables_of_worklist(client.get(WORKLIST).content.decode())] == ["Quinn2 Lee2 A-302"]


def test_invite_one_from_the_worklist(client, cast, manager, due):
    client.force_login(manager.user)
    response = client.post(reverse("clinic:worklist-invite", args=[due["pat"].pk]), follow=True)
    assert "Invitation sent to Pat Jones." in response.content.decode()
    invitation = Invitation.objects.get(patient=cast.pat)
    assert (invitation.channel, invitation.sent_by) == ("chart", manager)
    assert "Pat Jones" not in response.content.decode().split('data-testid="worklist"')[1]
    again = client.post(reverse("clinic:worklist-invite", args=[due["pat"].pk]), follow=True)
    assert "no longer on the worklist" in again.content.decode()
    assert Invitation.objects.filter(patient=cast.pat).count() == 1


def test_invite_all_eligible(client, cast, manager, due):
    client.force_login(manager.user)
    response = client.post(reverse("clinic:worklist-invite-all"), follow=True)
    assert "Invited 2 patients." in response.content.decode()
    assert set(Invitation.objects.values_list("patient__chart_number", flat=True)) == {"A-100", "A-302"}
    response = client.post(reverse("clinic:worklist-invite-all"), follow=True)
    assert "No eligible patient is on the worklist: nothing was sent." in response.content.decode()


def test_a_doctor_cannot_invite_another_doctors_visit_nor_another_practices(client, cast, drew, other_doctor, due):
    client.force_login(drew.user)
    response = client.post(reverse("clinic:worklist-invite", args=[due["pat"].pk]), follow=True)
    assert "no longer on the worklist" in response.content.decode()
    foreign = visit(cast, cast.bea, at(13), other_doctor)
    assert client.post(reverse("clinic:worklist-invite", args=[foreign.pk])).status_code == 404
    assert not Invitation.objects.exists()
    assert AccessEvent.objects.filter(action=AccessEvent.Action.FOREIGN_ID).count() == 1


def test_the_worklist_buttons_reject_get(client, manager, due):
    client.force_login(manager.user)
    assert client.get(reverse("clinic:worklist-invite-all")).status_code == 405
    assert client.get(reverse("clinic:worklist-invite", args=[due["pat"].pk])).status_code == 405
