import datetime

import time_machine
from django.test import Client
from django.urls import reverse

from access.models import Invitation

NOW = datetime.datetime(2026, 11, 25, 15, 0, tzinfo=datetime.UTC)


def test_it_signs_staff_in_to_the_patient_list(client, cast):
    response = client.post(reverse("login"), {"username": "alice", "password": "staff-password-123"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("clinic:patients")
    assert b"Maple Street Clinic" in response.content


def test_it_refuses_a_wrong_password(client, cast):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert client.get(reverse("clinic:patients")).status_code == 302


def test_it_signs_out_after_30_idle_minutes(client, cast):
    with time_machine.travel(NOW, tick=False):
        client.post(reverse("login"), {"username": "alice", "password": "staff-password-123"})
    with time_machine.travel(NOW + datetime.timedelta(minutes=29), tick=False):
        assert client.get(reverse("clinic:patients")).status_code == 200
    with time_machine.travel(NOW + datetime.timedelta(minutes=58), tick=False):
        assert client.get(reverse("clinic:patients")).status_code == 200  # activity keeps it alive
    with time_machine.travel(NOW + datetime.timedelta(minutes=89), tick=False):
        response = client.get(reverse("clinic:patients"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_needs_the_csrf_token_on_actions(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.alice.user)
    assert client.post(reverse("clinic:enable-access", args=[cast.pat.pk])).status_code == 403
    assert not Invitation.objects.exists()
