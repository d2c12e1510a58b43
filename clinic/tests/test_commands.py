from io import StringIO

from django.core.management import call_command

from access.models import Proxy
from access.selectors import PortalState, with_portal_state
from clinic.models import Appointment, Patient, Practice, StaffMember
from mail.models import Message


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_seed_demo_loads_every_state_once_and_prints_the_logins(db, django_capture_on_commit_callbacks):
    # History is sealed once each action's transaction commits; the test's own transaction never does.
    with django_capture_on_commit_callbacks(execute=True):
        first = run("seed_demo")
    assert "Loaded Demo Family Practice (50 patients)" in first
    for login in ("doctor / portico-demo-staff", "frontdesk / portico-demo-staff", "manager / portico-demo-staff",
                  "other-doctor / portico-demo-staff"):
        assert login in first
    demo = Practice.objects.get(name="Demo Family Practice")
    assert demo.time_zone == "America/New_York"
    assert {m.user.username: m.practice.name for m in StaffMember.objects.select_related("user", "practice")} == {
        "doctor": "Demo Family Practice", "frontdesk": "Demo Family Practice", "manager": "Demo Family Practice",
        "other-doctor": "Riverside Pediatrics"}
    states = set(with_portal_state(Patient.objects.filter(practice=demo)).values_list("portal_state", flat=True))
    assert states >= {PortalState.NOT_INVITED, PortalState.NOT_ELIGIBLE, PortalState.PENDING, PortalState.CONNECTED,
                      PortalState.EXPIRED}
    assert Patient.objects.filter(practice=demo, email="").exists()
    assert Patient.objects.filter(practice=demo, ssn_last4="", phone="").exclude(email="").exists()
    assert Appointment.objects.filter(practice=demo).count() >= 20
    spanish = Patient.objects.get(practice=demo, preferred_language="es")
    assert f"a patient who prefers Spanish: {spanish.full_name} (chart {spanish.chart_number})" in first
    assert Message.objects.get(invitation_id=spanish.invitations.get(status="pending").pk).context["language"] == "es"
    # The family (issue 21): the parent invited as guardian of a child of 8 and of one 18 next week.
    family = Proxy.objects.filter(email="jordan.rivera@example.test", status="invited").order_by("patient__date_of_birth")
    assert [(p.patient.first_name, p.level) for p in family] == [("Casey", "limited"), ("Alex", "full")]
    assert "a family: Jordan Rivera (patient, jordan.rivera@example.test) is invited as parent of Casey Rivera" in first
    counts = (Patient.objects.count(), Appointment.objects.count())
    again = run("seed_demo")
    assert again.startswith("Demo data already loaded; nothing changed.")
    assert (Patient.objects.count(), Appointment.objects.count()) == counts
    assert "History intact" not in again and "BROKEN" not in run("verify_history")


def test_the_patient_login_seed_demo_prints_signs_in_to_the_portal(db, client):
    import re

    from django.urls import reverse

    printed = run("seed_demo")
    username, password = re.search(r"patient (\S+) / (\S+)", printed).groups()
    response = client.post(reverse("portal:login"), {"username": username, "password": password})
    assert response.status_code == 302, "the printed patient login was refused"
    home = client.get(reverse("portal:home")).content.decode()
    assert "Demo Family Practice" in home


def test_seed_demo_prints_a_practice_admin_login_that_can_import(db, client):
    import re

    from django.urls import reverse

    printed = run("seed_demo")
    username, password = re.search(r"staff   (\S+) / (\S+)   \(Demo Family Practice, practice admin", printed).groups()
    assert username == "manager"
    assert client.login(username=username, password=password)
    assert client.get(reverse("clinic:import-patients")).status_code == 200


def test_seed_demo_adds_the_admin_login_to_demo_data_loaded_before_it_existed(db):
    run("seed_demo")
    StaffMember.objects.get(user__username="manager").user.delete()
    again = run("seed_demo")
    assert again.startswith("Demo data already loaded; added the practice admin login.")
    assert StaffMember.objects.get(user__username="manager").role == StaffMember.Role.ADMIN
    assert run("seed_demo").startswith("Demo data already loaded; nothing changed.")


def test_the_expired_link_seed_demo_prints_offers_a_new_one(db, client, settings):
    settings.PORTICO_BASE_URL = "https://portal.example.test"
    printed = run("seed_demo")
    link = next(line.split(": ", 1)[1] for line in printed.splitlines() if "an expired invitation link" in line)
    response = client.get(link.removeprefix("https://portal.example.test"), follow=True)
    assert "This invitation has expired" in response.content.decode()
    assert "Send me a new link" in response.content.decode()
