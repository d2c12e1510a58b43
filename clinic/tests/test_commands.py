from io import StringIO

from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from access.selectors import PortalState, with_portal_state
from access.tests.helpers import send
from clinic.models import Appointment, Patient, Practice, StaffMember
from portico import crypto


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_seed_demo_loads_every_state_once_and_prints_the_logins(db):
    first = run("seed_demo")
    assert "Loaded Demo Family Practice (50 patients)" in first
    for login in ("doctor / portico-demo-staff", "frontdesk / portico-demo-staff", "other-doctor / portico-demo-staff"):
        assert login in first
    demo = Practice.objects.get(name="Demo Family Practice")
    assert demo.time_zone == "America/New_York"
    assert {m.user.username: m.practice.name for m in StaffMember.objects.select_related("user", "practice")} == {
        "doctor": "Demo Family Practice", "frontdesk": "Demo Family Practice", "other-doctor": "Riverside Pediatrics"}
    states = set(with_portal_state(Patient.objects.filter(practice=demo)).values_list("portal_state", flat=True))
    assert states >= {PortalState.NOT_INVITED, PortalState.NOT_ELIGIBLE, PortalState.PENDING, PortalState.CONNECTED,
                      PortalState.EXPIRED}
    assert Patient.objects.filter(practice=demo, email="").exists()
    assert Patient.objects.filter(practice=demo, ssn_last4="", phone="").exclude(email="").exists()
    assert Appointment.objects.filter(practice=demo).count() >= 20
    counts = (Patient.objects.count(), Appointment.objects.count())
    again = run("seed_demo")
    assert again.startswith("Demo data already loaded; nothing changed.")
    assert (Patient.objects.count(), Appointment.objects.count()) == counts
    assert "History intact" not in again and "BROKEN" not in run("verify_history")


def test_rotate_field_keys_reencrypts_with_the_new_key(cast, settings):
    send(cast)
    old_key = settings.PORTICO_FIELD_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.PORTICO_FIELD_KEYS = [new_key, old_key]
    assert run("rotate_field_keys").strip() == "Re-encrypted 2 social security numbers."
    settings.PORTICO_FIELD_KEYS = [new_key]  # the old key is gone: everything still reads
    with connection.cursor() as cur:
        cur.execute("SELECT ssn FROM clinic_patient WHERE ssn <> ''")
        stored = [row[0] for row in cur.fetchall()]
    assert sorted(crypto.decrypt(value) for value in stored) == ["123456789", "234567890"]
    assert Patient.objects.get(pk=cast.pat.pk).ssn == "123456789"
