"""A patient invited by text alone (no email on file) accepts through the email-confirmation step
(access.actions.email_confirmation) and connects: the text's link, the identity check, an address
confirmed by an emailed code, then the account."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from access.actions import sending
from access.actions.texting import record_text_consent
from access.models import Channel, Connection, EmailConfirmation, Invitation, TextConsent
from clinic.models import Patient, Practice
from mail.models import Message
from portal.tests.conftest import PASSWORD, events, open_link
from sms.models import TextMessage


@pytest.fixture
def texted(cast, clock):
    """At NOW (`clock`): Ned (no email; his date of birth and phone on file, a mobile number with consent), invited by
    text at a practice that texts when there is no email."""
    Practice.objects.filter(pk=cast.practice.pk).update(invite_by=Practice.InviteBy.TEXT_WITHOUT_EMAIL)
    Patient.objects.filter(pk=cast.ned.pk).update(date_of_birth=datetime.date(1975, 3, 4), phone="+15555550111")
    cast.ned.refresh_from_db()
    record_text_consent(cast.ned, number="+15555550188", consented=True, source=TextConsent.Source.PATIENT_FORM,
                        by=cast.alice)
    cast.ned.refresh_from_db()
    return sending.send_invitation(cast.ned, by=cast.alice, channel=Channel.CHART)


def test_a_patient_invited_by_text_confirms_an_email_and_connects(client, cast, texted):
    [text] = TextMessage.objects.filter(invitation_id=texted.invitation.pk)
    assert texted.token in text.body and texted.invitation.email == ""
    assert not Message.objects.exists()  # no address: no invitation email

    open_link(client, texted.token)
    response = client.post(reverse("portal:accept"), {"date_of_birth": "1975-03-04", "phone": "(555) 555-0111"})
    assert response["Location"] == reverse("portal:account")
    assert client.get(reverse("portal:account"))["Location"] == reverse("portal:confirm-email")

    client.post(reverse("portal:confirm-email"), {"email": "ned@example.test"})
    code = Message.objects.get(kind="email-code", to="ned@example.test")
    response = client.post(reverse("portal:confirm-email"), {"code": code.secret_link})
    assert response["Location"] == reverse("portal:account")
    response = client.post(reverse("portal:account"), {"password1": PASSWORD, "password2": PASSWORD})

    assert response["Location"] == reverse("portal:home")
    connection = Connection.objects.get()
    assert (connection.patient_id, connection.account) == (
        cast.ned.pk, get_user_model().objects.get(username="ned@example.test"))
    invitation = Invitation.objects.get(pk=texted.invitation.pk)
    assert (invitation.email, invitation.channel) == ("ned@example.test", Channel.CHART)
    assert events(invitation) == ["text.queued", "invitation.sent", "identity.passed", "email.confirmed",
                                  "account.created", "access.granted"]
    assert EmailConfirmation.objects.get().used_at is not None


def test_an_expired_text_invitation_is_renewed_by_text_to_the_number_on_file(client, cast, texted, clock):
    """Renewals follow Invite by: a patient invited by text alone (no email) renews by text."""
    clock.move_to(texted.invitation.expires_at + datetime.timedelta(seconds=1))
    open_link(client, texted.token)

    problem = client.get(reverse("portal:link-problem")).content.decode()
    assert "we will text a new invitation to the mobile number Maple Street Clinic has on file" in problem
    assert "Send me a new link" in problem
    page = client.get(reverse("portal:renew")).content.decode()
    assert "We will then text a new link to the mobile number Maple Street Clinic has on file." in page
    response = client.post(reverse("portal:renew"), {"date_of_birth": "1975-03-04", "phone": "(555) 555-0111"})

    assert response["Location"] == reverse("portal:renewed")
    new = cast.ned.invitations.get(channel=Channel.RENEWAL)
    [text] = TextMessage.objects.filter(invitation_id=new.pk)
    assert (text.to, text.kind) == ("+15555550188", TextMessage.Kind.INVITATION)
    assert not Message.objects.filter(invitation_id=new.pk).exists()
    done = client.get(response["Location"]).content.decode()
    assert "We texted a new invitation link to <strong>(•••) •••-0188</strong>" in done and "555-0188" not in done


def test_without_consent_any_more_a_text_invitation_is_not_renewed(client, cast, texted, clock):
    record_text_consent(cast.ned, consented=False, source=TextConsent.Source.STAFF_SPOKEN, by=cast.alice)
    clock.move_to(texted.invitation.expires_at + datetime.timedelta(seconds=1))
    open_link(client, texted.token)

    problem = client.get(reverse("portal:link-problem")).content.decode()

    assert "Send me a new link" not in problem and "This link cannot be renewed online." in problem
    assert client.post(reverse("portal:renew"), {"date_of_birth": "1975-03-04", "phone": "(555) 555-0111"})[
        "Location"] == reverse("portal:link-problem")
    assert not cast.ned.invitations.filter(channel=Channel.RENEWAL).exists()
