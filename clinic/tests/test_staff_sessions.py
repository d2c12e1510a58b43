import pytest
from django.urls import reverse

from access.models import AccessEvent

pytestmark = pytest.mark.records_sign_ins


def test_it_records_staff_sign_in_and_out_in_the_practice_history(client, cast):
    response = client.post(reverse("login"), {"username": "alice", "password": "staff-password-123"},
                           REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="Tablet browser")
    assert response.status_code == 302
    client.post(reverse("logout"))
    events = list(AccessEvent.objects.order_by("id").values_list("practice", "action", "actor", "client_ip", "patient"))
    assert events == [
        (cast.practice.pk, "staff.signed_in", cast.alice.user.pk, "198.51.100.4", None),
        (cast.practice.pk, "staff.signed_out", cast.alice.user.pk, "127.0.0.1", None),
    ]


def test_a_failed_sign_in_records_nothing_and_patients_are_not_staff(client, cast, django_user_model):
    client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    django_user_model.objects.create_user(username="pat@example.test", password="patient-password-1")
    client.post(reverse("portal:login"), {"username": "pat@example.test", "password": "patient-password-1"})
    assert not AccessEvent.objects.exists()
