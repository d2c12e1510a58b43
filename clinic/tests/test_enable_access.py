import datetime

import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from access.actions import sending
from access.models import AccessEvent, Channel, Invitation
from mail.models import Message

NOW = datetime.datetime(2026, 11, 25, 15, 0, tzinfo=datetime.UTC)  # 10:00 in New York


def url(patient) -> str:
    return reverse("clinic:enable-access", args=[patient.pk])


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_requires_login(client, cast):
    response = client.post(url(cast.pat))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not Invitation.objects.exists()


def test_it_rejects_get(client, cast):
    client.force_login(cast.alice.user)
    assert client.get(url(cast.pat)).status_code == 405
    assert not Invitation.objects.exists()


def test_it_hides_other_practice(client, cast):
    client.force_login(cast.bob.user)
    assert client.post(url(cast.pat)).status_code == 404
    assert not Invitation.objects.exists()
    assert not Message.objects.exists()
    assert AccessEvent.objects.get().action == AccessEvent.Action.FOREIGN_ID


def test_it_sends_the_invitation(client, cast):
    with time_machine.travel(NOW, tick=False):
        client.force_login(cast.alice.user)
        response = client.post(url(cast.pat), HTTP_USER_AGENT="TestBrowser/1", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302
    assert response.url == reverse("clinic:portal-access", args=[cast.pat.pk])
    invitation = Invitation.objects.get()
    assert invitation.patient == cast.pat
    assert invitation.status == Invitation.Status.PENDING
    assert invitation.channel == Channel.CHART
    assert invitation.sent_by == cast.alice
    assert invitation.email == "pat@example.test"
    event = AccessEvent.objects.get()
    assert event.action == AccessEvent.Action.INVITATION_SENT
    assert event.actor == cast.alice.user
    assert event.channel == Channel.CHART
    assert event.client_ip == "10.1.2.3"
    assert event.user_agent == "TestBrowser/1"
    assert Message.objects.get().to == "pat@example.test"
    assert said(response) == ["Invitation sent to pat@example.test. It expires Wed 2 Dec 2026, 10:00 AM EST."]


def test_it_refuses_an_ineligible_patient(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(url(cast.ned))
    assert response.status_code == 302
    assert not Invitation.objects.exists()
    assert not AccessEvent.objects.exists()
    assert said(response) == [
        "This patient cannot be invited yet: Add an email address; "
        "Add a social security number, or a date of birth and a phone number."
    ]


def test_it_refuses_while_an_invitation_is_pending(client, cast):
    with time_machine.travel(NOW, tick=False):
        sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
        client.force_login(cast.alice.user)
        response = client.post(url(cast.pat), follow=True)
    assert Invitation.objects.count() == 1
    assert AccessEvent.objects.count() == 1
    assert "This patient already has a pending invitation (expires 2 Dec 2026)" in response.content.decode()


def test_it_refuses_a_connected_patient(client, cast):
    from clinic.tests.test_portal_access import connect

    connect(cast.pat)
    before = AccessEvent.objects.count()
    client.force_login(cast.alice.user)
    response = client.post(url(cast.pat))
    assert Invitation.objects.count() == 1
    assert AccessEvent.objects.count() == before
    assert said(response) == ["This patient is already connected to the portal."]
