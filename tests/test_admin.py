"""The Django admin is for operators only (portico/admin.py): practice logins never get in, whatever
their flags, and its sign-in shares the limits of every other sign-in."""

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from access import signins
from clinic.models import StaffMember

OPERATOR_PASSWORD = "operator-password-123"
STAFF_PASSWORD = "staff-password-123"  # the cast's
ADMIN_LOGIN = reverse("admin:login")


@pytest.fixture
def operator(db, django_user_model):
    return django_user_model.objects.create_superuser("ops", "ops@example.test", OPERATOR_PASSWORD)


@pytest.fixture
def superuser_doctor(cast):
    """A practice doctor someone made a superuser, as the demo data once did."""
    user = cast.dora.user
    user.is_staff = user.is_superuser = True
    user.save()
    return user


def sign_in(url, username, password, client=None):
    client = client or Client()
    return client, client.post(url, {"username": username, "password": password}, REMOTE_ADDR="198.51.100.20")


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def patient_change_url(patient) -> str:
    return reverse("admin:clinic_patient_change", args=[patient.pk])


def test_an_operator_signs_in_and_sees_every_practice(cast, operator):
    client, response = sign_in(ADMIN_LOGIN, "ops", OPERATOR_PASSWORD)
    assert response.status_code == 302 and signed_in(client)
    assert client.get(reverse("admin:index")).status_code == 200
    for patient in (cast.pat, cast.bea):
        assert client.get(patient_change_url(patient)).status_code == 200


def test_a_practice_superuser_cannot_sign_in_to_the_admin(cast, superuser_doctor):
    client, response = sign_in(ADMIN_LOGIN, "dora", STAFF_PASSWORD)
    assert response.status_code == 200 and not signed_in(client)
    _, wrong = sign_in(ADMIN_LOGIN, "dora", "wrong-password")
    assert "Please enter the correct username and password for a staff account." in response.content.decode()
    assert response.content.decode().count("errornote") == wrong.content.decode().count("errornote")


def test_a_signed_in_practice_superuser_is_kept_out_of_every_admin_page(client, cast, superuser_doctor):
    client.force_login(superuser_doctor)  # e.g. signed in on the staff sign-in page
    pages = [reverse("admin:index"), patient_change_url(cast.bea), patient_change_url(cast.pat),
             reverse("admin:auth_user_changelist"), reverse("admin:auth_user_change", args=[cast.bob.user.pk]),
             reverse("admin:clinic_patient_changelist")]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith(ADMIN_LOGIN), page
    before = cast.bea.first_name
    client.post(patient_change_url(cast.bea), {"first_name": "Changed", "last_name": "Hart", "chart_number": "B-200"})
    cast.bea.refresh_from_db()
    assert cast.bea.first_name == before


def test_ten_failures_on_the_staff_sign_in_close_the_admin_sign_in(cast, operator):
    for _ in range(10):
        sign_in(reverse("login"), "ops", "wrong-password")
    client, response = sign_in(ADMIN_LOGIN, "ops", OPERATOR_PASSWORD)
    assert not signed_in(client)
    assert signins.MESSAGE in response.content.decode()


def test_ten_failures_on_the_admin_sign_in_close_the_staff_sign_in(cast):
    for _ in range(10):
        sign_in(ADMIN_LOGIN, "alice", "wrong-password")
    client, response = sign_in(reverse("login"), "alice", STAFF_PASSWORD)
    assert not signed_in(client)
    assert signins.MESSAGE in response.content.decode()


def test_the_admin_sign_in_refuses_a_throttled_operator_even_with_the_right_password(cast, operator):
    for _ in range(10):
        sign_in(ADMIN_LOGIN, "ops", "wrong-password")
    client, response = sign_in(ADMIN_LOGIN, "ops", OPERATOR_PASSWORD)
    assert not signed_in(client)
    assert signins.MESSAGE in response.content.decode()


def test_the_demo_data_makes_no_practice_login_an_admin_user(db):
    call_command("seed_demo", stdout=io.StringIO())
    staff_users = StaffMember.objects.values_list("user__is_staff", "user__is_superuser")
    assert staff_users and set(staff_users) == {(False, False)}
