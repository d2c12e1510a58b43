from django.contrib.messages import get_messages
from django.urls import reverse

from access import actions
from access.models import AccessEvent, Channel, Connection, Invitation
from clinic.tests.test_portal_access import connect


def url(patient) -> str:
    return reverse("clinic:revoke-access", args=[patient.pk])


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_requires_login(client, cast):
    actions.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    response = client.post(url(cast.pat))
    assert response.status_code == 302
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_it_rejects_get(client, cast):
    actions.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    assert client.get(url(cast.pat)).status_code == 405
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_it_hides_other_practice(client, cast):
    actions.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.bob.user)
    assert client.post(url(cast.pat)).status_code == 404
    assert Invitation.objects.get().status == Invitation.Status.PENDING
    assert AccessEvent.objects.filter(action=AccessEvent.Action.FOREIGN_ID, practice=cast.other_practice).count() == 1


def test_it_revokes_a_pending_invitation(client, cast):
    actions.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.dora.user)
    response = client.post(url(cast.pat))
    assert response.url == reverse("clinic:portal-access", args=[cast.pat.pk])
    assert Invitation.objects.get().status == Invitation.Status.REVOKED
    event = AccessEvent.objects.order_by("-id").first()
    assert event.action == AccessEvent.Action.INVITATION_REVOKED
    assert event.actor == cast.dora.user
    assert said(response) == ["Invitation revoked: Pat Jones's invitation link no longer works."]


def test_it_revokes_a_connection(client, cast):
    connect(cast.pat)
    client.force_login(cast.alice.user)
    response = client.post(url(cast.pat))
    connection = Connection.objects.get()
    assert connection.ended_at is not None
    assert connection.end_reason == Connection.EndReason.REVOKED
    event = AccessEvent.objects.order_by("-id").first()
    assert event.action == AccessEvent.Action.ACCESS_REVOKED
    assert event.actor == cast.alice.user
    assert said(response) == ["Portal access revoked: Pat Jones can no longer reach this practice in the portal."]


def test_it_refuses_when_there_is_nothing_to_revoke(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(url(cast.pat))
    assert not AccessEvent.objects.exists()
    assert said(response) == ["This patient has no pending invitation or portal access to revoke."]
