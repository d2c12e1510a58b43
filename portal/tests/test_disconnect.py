from django.contrib.auth.models import User
from django.urls import reverse

from access.models import AccessEvent, Connection
from clinic.models import Patient
from portal.tests.conftest import events


def _url(connection):
    return reverse("portal:disconnect", args=[connection.pk])


def test_it_requires_login(client, connected):
    client.logout()
    response = client.post(_url(connected))
    assert response["Location"].startswith(reverse("portal:login"))
    assert Connection.objects.get().ended_at is None


def test_it_is_not_there_for_staff(client, cast, connected):
    client.force_login(cast.alice.user)
    assert client.post(_url(connected)).status_code == 404
    assert Connection.objects.get().ended_at is None


def test_it_asks_for_confirmation(client, connected):
    response = client.get(_url(connected))
    assert response.status_code == 200
    assert "Disconnect from Maple Street Clinic?" in response.content.decode()
    assert Connection.objects.get().ended_at is None


def test_it_disconnects_and_records_it(client, cast, connected):
    response = client.post(_url(connected), REMOTE_ADDR="203.0.113.5", follow=True)
    assert "You are no longer connected to Maple Street Clinic." in response.content.decode()
    assert "You are not connected to any practice." in response.content.decode()
    connected.refresh_from_db()
    assert connected.ended_at is not None
    assert connected.end_reason == Connection.EndReason.DISCONNECTED
    event = AccessEvent.objects.get(action=AccessEvent.Action.ACCESS_DISCONNECTED)
    assert (event.practice, event.patient, event.actor_kind, event.client_ip) == (
        cast.practice, cast.pat, "patient", "203.0.113.5")
    assert events(connected.invitation)[-1] == "access.disconnected"
    Patient.objects.get(pk=cast.pat.pk)  # the practice's record stays


def test_it_hides_another_accounts_connection(client, connected):
    other = User.objects.create_user(username="mallory@example.test", password="x-long-password-1")
    client.force_login(other)
    assert client.get(_url(connected)).status_code == 404
    assert client.post(_url(connected)).status_code == 404
    connected.refresh_from_db()
    assert connected.ended_at is None
    assert not AccessEvent.objects.filter(action=AccessEvent.Action.ACCESS_DISCONNECTED).exists()


def test_it_hides_an_unknown_connection(client, connected):
    assert client.post(reverse("portal:disconnect", args=[connected.pk + 100])).status_code == 404


def test_it_rejects_other_methods(client, connected):
    assert client.put(_url(connected)).status_code == 405
