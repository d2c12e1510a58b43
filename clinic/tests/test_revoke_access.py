from django.contrib.messages import get_messages
from django.urls import reverse

from access.actions import acceptance, sending
from access.models import AccessEvent, Channel, Connection, Invitation
from access.tests.helpers import snapshot
from clinic.tests.test_portal_access import connect


def url(patient) -> str:
    return reverse("clinic:revoke-access", args=[patient.pk])


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_requires_login(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    response = client.post(url(cast.pat))
    assert response.status_code == 302
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_it_asks_before_revoking_an_invitation(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    before = snapshot()
    html = client.get(url(cast.pat)).content.decode()
    assert snapshot() == before  # asking changes nothing
    assert "Revoke Pat Jones's invitation?" in html
    assert "Pat Jones's invitation link will stop working at once." in html
    assert f'<form method="post" action="{url(cast.pat)}"' in html
    assert '<button type="submit" class="danger">Revoke Invite</button>' in html
    assert f'<a class="button" href="{reverse("clinic:portal-access", args=[cast.pat.pk])}">Cancel</a>' in html
    assert 'data-testid="chart-status"' in html  # still inside the chart, its status in the header


def test_it_asks_before_revoking_access(client, cast):
    connect(cast.pat)
    client.force_login(cast.alice.user)
    before = snapshot()
    html = client.get(url(cast.pat)).content.decode()
    assert snapshot() == before
    assert "Revoke Pat Jones's portal access?" in html
    assert "Pat Jones will no longer reach this practice in the patient portal" in html
    assert '<button type="submit" class="danger">Revoke Access</button>' in html


def test_it_does_not_ask_when_there_is_nothing_to_revoke(client, cast):
    client.force_login(cast.alice.user)
    response = client.get(url(cast.pat))
    assert response.url == reverse("clinic:portal-access", args=[cast.pat.pk])
    assert said(response) == ["This patient has no pending invitation or portal access to revoke."]
    assert not AccessEvent.objects.exists()


def test_the_question_hides_other_practice(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.bob.user)
    assert client.get(url(cast.pat)).status_code == 404


def test_it_rejects_other_methods(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    assert client.put(url(cast.pat)).status_code == 405
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_it_hides_other_practice(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.bob.user)
    assert client.post(url(cast.pat)).status_code == 404
    assert Invitation.objects.get().status == Invitation.Status.PENDING
    assert AccessEvent.objects.filter(action=AccessEvent.Action.FOREIGN_ID, practice=cast.other_practice).count() == 1


def test_it_revokes_a_pending_invitation(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
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


def test_a_confirmed_revoke_invite_does_not_end_access_the_patient_gained_meanwhile(client, cast):
    client.force_login(cast.alice.user)
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    assert 'name="target" value="invitation"' in client.get(url(cast.pat)).content.decode()
    # The patient accepts while the question is on screen.
    proof = acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn=cast.pat.ssn)).proof
    acceptance.accept_invitation(sent.token, proof=proof, password="a-long-patient-password")
    before = snapshot()
    response = client.post(url(cast.pat), {"target": "invitation"})
    assert snapshot() == before
    assert Connection.objects.get().ended_at is None
    assert said(response) == [
        "This patient's invitation is no longer pending (it may have just been accepted), so nothing was revoked."]


def test_a_confirmed_revoke_access_ends_only_access(client, cast):
    connect(cast.pat)
    client.force_login(cast.alice.user)
    assert 'name="target" value="access"' in client.get(url(cast.pat)).content.decode()
    client.post(url(cast.pat), {"target": "access"})
    assert Connection.objects.get().end_reason == Connection.EndReason.REVOKED
