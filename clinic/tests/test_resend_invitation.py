from django.contrib.messages import get_messages
from django.urls import reverse

from access.actions import sending
from access.models import AccessEvent, Channel, Invitation
from clinic.models import Patient
from clinic.tests.test_portal_access import connect


def url(patient) -> str:
    return reverse("clinic:resend-invitation", args=[patient.pk])


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_requires_login(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    assert client.post(url(cast.pat)).status_code == 302
    assert Invitation.objects.count() == 1


def test_it_rejects_get(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    assert client.get(url(cast.pat)).status_code == 405
    assert Invitation.objects.count() == 1


def test_it_hides_other_practice(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.bob.user)
    assert client.post(url(cast.pat)).status_code == 404
    assert Invitation.objects.count() == 1
    assert AccessEvent.objects.filter(action=AccessEvent.Action.FOREIGN_ID).count() == 1


def test_it_revokes_the_pending_invitation_and_sends_a_new_one(client, cast):
    old = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    response = client.post(url(cast.pat))
    assert response.url == reverse("clinic:portal-access", args=[cast.pat.pk])
    old.invitation.refresh_from_db()
    assert old.invitation.status == Invitation.Status.REVOKED
    new = Invitation.objects.get(status=Invitation.Status.PENDING)
    assert new.pk != old.invitation.pk
    actions_recorded = list(AccessEvent.objects.order_by("id").values_list("action", "reason"))
    assert actions_recorded == [("invitation.sent", ""), ("invitation.revoked", "Resent"), ("invitation.sent", "Resent")]
    [message] = said(response)
    assert message.startswith("A new invitation was sent to pat@example.test. It expires ")
    assert message.endswith("The previous link no longer works.")


def test_it_resends_after_a_revoke(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    sending.revoke_invitation(cast.pat, by=cast.alice)
    client.force_login(cast.alice.user)
    client.post(url(cast.pat))
    assert Invitation.objects.filter(status=Invitation.Status.PENDING).count() == 1


def test_it_refuses_a_connected_patient(client, cast):
    connect(cast.pat)
    before = AccessEvent.objects.count()
    client.force_login(cast.alice.user)
    response = client.post(url(cast.pat))
    assert Invitation.objects.count() == 1
    assert AccessEvent.objects.count() == before
    assert said(response) == ["This patient is already connected to the portal."]


def test_it_refuses_a_patient_who_is_no_longer_eligible(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    sending.revoke_invitation(cast.pat, by=cast.alice)
    Patient.objects.filter(pk=cast.pat.pk).update(email="")
    before = AccessEvent.objects.count()
    client.force_login(cast.alice.user)
    response = client.post(url(cast.pat))
    assert Invitation.objects.count() == 1
    assert AccessEvent.objects.count() == before
    assert said(response) == ["This patient cannot be invited yet: Add an email address."]
