import datetime

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from access.actions import acceptance, sending
from access.errors import Refusal
from access.models import AccessEvent, Channel, Invitation
from clinic.models import Appointment, Patient

START = datetime.datetime(2026, 11, 25, 14, 0, tzinfo=datetime.UTC)


def book(cast, patient) -> Appointment:
    return Appointment.objects.create(practice=patient.practice, patient=patient, doctor=cast.dora, starts_at=START,
                                      ends_at=START + datetime.timedelta(minutes=30), reason="Annual physical")


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "appointment-window"}
# The arrow with its visible words, enabled.
SEND_BUTTON = '<button type="submit" class="primary with-icon">'


def test_it_requires_login(client, cast):
    appt = book(cast, cast.ned)
    for name in ("clinic:appointment", "clinic:appointment-details", "clinic:appointment-invite"):
        assert client.post(reverse(name, args=[appt.pk]), {"email": "ned@example.test"}).status_code == 302
    assert Patient.objects.get(pk=cast.ned.pk).email == ""


def test_it_rejects_get(client, cast):
    appt = book(cast, cast.pat)
    client.force_login(cast.alice.user)
    assert client.get(reverse("clinic:appointment-invite", args=[appt.pk])).status_code == 405
    assert client.get(reverse("clinic:appointment-details", args=[appt.pk])).status_code == 405
    assert not Invitation.objects.exists()


def test_it_hides_other_practice(client, cast):
    appt = book(cast, cast.pat)
    client.force_login(cast.bob.user)
    assert client.get(reverse("clinic:appointment", args=[appt.pk])).status_code == 404
    assert client.post(reverse("clinic:appointment-invite", args=[appt.pk])).status_code == 404
    assert client.post(reverse("clinic:appointment-details", args=[appt.pk]), {"email": "x@example.test"}).status_code == 404
    assert not Invitation.objects.exists()
    assert Patient.objects.get(pk=cast.pat.pk).email == "pat@example.test"
    events = AccessEvent.objects.all()
    assert [e.action for e in events] == [AccessEvent.Action.FOREIGN_ID] * 3
    assert {e.reason for e in events} == {f"appointment {appt.pk}"}


def test_it_shows_the_window_as_a_page(client, cast):
    appt = book(cast, cast.pat)
    client.force_login(cast.alice.user)
    html = client.get(reverse("clinic:appointment", args=[appt.pk])).content.decode()
    assert "<html" in html
    assert "Annual physical" in html and "Dr. Dorsey" in html
    assert "Wed 25 Nov 2026, 9:00 AM" in html
    assert "***-**-6789" in html and "123456789" not in html
    assert SEND_BUTTON in html
    assert "hx-post" not in html


def test_it_shows_the_window_for_the_dialog(client, cast):
    appt = book(cast, cast.ned)
    client.force_login(cast.alice.user)
    html = client.get(reverse("clinic:appointment", args=[appt.pk]), {"window": "dialog"}, **HTMX).content.decode()
    assert "<html" not in html
    assert "data-close-dialog" in html
    assert 'hx-target="#appointment-window"' in html
    assert 'disabled aria-describedby="invite-reason"' in html
    assert "Cannot invite yet: Add an email address" in html
    assert ">Not eligible<" in html


def test_it_saves_details_then_enables_the_invitation(client, cast):
    appt = book(cast, cast.ned)
    client.force_login(cast.alice.user)
    response = client.post(reverse("clinic:appointment-details", args=[appt.pk]), {
        "window": "dialog", "email": "ned@example.test", "date_of_birth": "1975-03-04", "phone": "(555) 555-0199",
        "ssn": "",
    }, **HTMX)
    assert response.status_code == 200
    ned = Patient.objects.get(pk=cast.ned.pk)
    assert (ned.email, ned.phone, ned.date_of_birth) == ("ned@example.test", "+15555550199", datetime.date(1975, 3, 4))
    html = response.content.decode()
    assert "Saved Ned Stone&#x27;s details." in html
    assert ">Not invited<" in html
    assert SEND_BUTTON in html
    assert f'id="appt-status-{appt.pk}" hx-swap-oob="true"' in html


def test_it_shows_field_errors_and_saves_nothing(client, cast):
    appt = book(cast, cast.ned)
    client.force_login(cast.alice.user)
    response = client.post(reverse("clinic:appointment-details", args=[appt.pk]),
                           {"window": "dialog", "email": "nope", "phone": "", "ssn": "12"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter an email address like name@example.com." in html
    assert "Enter a social security number of 9 digits, like 123-45-6789." in html
    assert Patient.objects.get(pk=cast.ned.pk).email == ""


def test_it_redirects_back_to_the_page_without_htmx(client, cast):
    appt = book(cast, cast.ned)
    client.force_login(cast.alice.user)
    response = client.post(reverse("clinic:appointment-details", args=[appt.pk]), {"email": "ned@example.test"})
    assert response.status_code == 302
    assert response.url == reverse("clinic:appointment", args=[appt.pk])


def test_it_sends_the_invitation_from_the_appointment(client, cast):
    appt = book(cast, cast.pat)
    client.force_login(cast.alice.user)
    response = client.post(reverse("clinic:appointment-invite", args=[appt.pk]), {"window": "dialog"}, **HTMX)
    invitation = Invitation.objects.get()
    assert (invitation.channel, invitation.sent_by, invitation.status) == (Channel.APPOINTMENT, cast.alice, "pending")
    event = AccessEvent.objects.get()
    assert (event.action, event.channel, event.actor) == ("invitation.sent", Channel.APPOINTMENT, cast.alice.user)
    html = response.content.decode()
    assert "Invitation sent to pat@example.test." in html
    assert ">Pending<" in html


def test_it_refuses_an_ineligible_patient(client, cast):
    appt = book(cast, cast.ned)
    client.force_login(cast.alice.user)
    response = client.post(reverse("clinic:appointment-invite", args=[appt.pk]))
    assert not Invitation.objects.exists()
    assert not AccessEvent.objects.exists()
    assert said(response) == ["This patient cannot be invited yet: Add an email address; "
                              "Add a social security number, or a date of birth and a phone number."]


def test_it_refuses_a_second_invitation(client, cast):
    appt = book(cast, cast.pat)
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    response = client.post(reverse("clinic:appointment-invite", args=[appt.pk]))
    assert Invitation.objects.count() == 1
    assert AccessEvent.objects.count() == 1
    [message] = said(response)
    assert message.startswith("This patient already has a pending invitation (expires ")


def test_it_refuses_an_appointment_joined_to_another_practices_patient(client, cast):
    """Bad data (made outside the pages) must still not show another practice's patient."""
    start = datetime.datetime.now(tz=datetime.UTC)
    bad = Appointment(practice=cast.practice, patient=cast.bea, doctor=cast.dora, starts_at=start,
                      ends_at=start + datetime.timedelta(minutes=30))
    with pytest.raises(ValidationError):
        bad.full_clean()
    bad.save()
    client.force_login(cast.alice.user)
    assert client.get(reverse("clinic:appointment", args=[bad.pk])).status_code == 404
    assert AccessEvent.objects.filter(action=AccessEvent.Action.FOREIGN_ID).count() == 1


def window(client, appt) -> str:
    return client.get(reverse("clinic:appointment", args=[appt.pk]), {"window": "dialog"}, **HTMX).content.decode()


def test_it_offers_resend_and_revoke_in_the_window_while_pending_and_no_send(client, cast):
    appt = book(cast, cast.pat)
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    html = window(client, appt)
    assert "Send portal invitation" not in html
    assert reverse("clinic:appointment-resend", args=[appt.pk]) in html
    assert ">Resend invitation</button>" in html
    assert ">Revoke Invite</button>" in html
    assert "The patient has been emailed a link and has not used it yet." in html


def test_it_offers_revoke_access_and_no_send_when_connected(client, cast):
    from clinic.tests.test_portal_access import connect

    appt = book(cast, cast.pat)
    connect(cast.pat)
    client.force_login(cast.alice.user)
    html = window(client, appt)
    assert "Send portal invitation" not in html and "Resend invitation" not in html
    assert ">Revoke Access</button>" in html


def test_it_offers_one_send_with_the_reason_when_locked(client, cast):
    appt = book(cast, cast.pat)
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    for _ in range(3):
        with pytest.raises(Refusal):
            acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn="987654321"))
    client.force_login(cast.alice.user)
    html = window(client, appt)
    assert html.count("Send portal invitation") == 2  # the button, and the sentence that names it
    assert SEND_BUTTON in html
    assert "Resend invitation" not in html and "Revoke" not in html
    assert "identity check failed 3 times, so the link was locked" in html


def test_it_resends_from_the_window(client, cast):
    appt = book(cast, cast.pat)
    first = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART).invitation
    client.force_login(cast.alice.user)
    response = client.post(reverse("clinic:appointment-resend", args=[appt.pk]), {"window": "dialog"}, **HTMX)
    first.refresh_from_db()
    assert first.status == Invitation.Status.REVOKED
    new = Invitation.objects.get(status=Invitation.Status.PENDING)
    assert new.channel == Channel.APPOINTMENT
    assert "A new invitation was sent to pat@example.test." in response.content.decode()


def test_it_asks_before_revoking_in_the_window(client, cast):
    appt = book(cast, cast.pat)
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    url = reverse("clinic:appointment-revoke", args=[appt.pk])
    html = client.get(url, {"window": "dialog"}, **HTMX).content.decode()
    assert "<html" not in html
    assert "Revoke Pat Jones's invitation?" in html
    assert "Pat Jones's invitation link will stop working at once." in html
    assert f'hx-post="{url}"' in html
    assert Invitation.objects.get().status == Invitation.Status.PENDING  # asking changed nothing
    assert AccessEvent.objects.count() == 1

    response = client.post(url, {"window": "dialog"}, **HTMX)
    assert Invitation.objects.get().status == Invitation.Status.REVOKED
    html = response.content.decode()
    assert "Invitation revoked: Pat Jones&#x27;s invitation link no longer works." in html
    assert f'id="appt-status-{appt.pk}" hx-swap-oob="true"' in html


def test_it_asks_before_revoking_on_the_page_without_javascript(client, cast):
    appt = book(cast, cast.pat)
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    url = reverse("clinic:appointment-revoke", args=[appt.pk])
    html = client.get(url).content.decode()
    assert "<html" in html and "hx-post" not in html
    assert f'<form method="post" action="{url}"' in html
    response = client.post(url)
    assert response.url == reverse("clinic:appointment", args=[appt.pk])
    assert Invitation.objects.get().status == Invitation.Status.REVOKED


def test_it_says_when_there_is_nothing_to_revoke(client, cast):
    appt = book(cast, cast.pat)
    client.force_login(cast.alice.user)
    response = client.get(reverse("clinic:appointment-revoke", args=[appt.pk]))
    assert response.url == reverse("clinic:appointment", args=[appt.pk])
    assert said(response) == ["This patient has no pending invitation or portal access to revoke."]
    assert not AccessEvent.objects.exists()


@pytest.mark.parametrize("name", ["appointment-resend", "appointment-revoke"])
def test_the_window_actions_hide_other_practice(client, cast, name):
    appt = book(cast, cast.pat)
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.bob.user)
    assert client.post(reverse(f"clinic:{name}", args=[appt.pk])).status_code == 404
    assert Invitation.objects.get().status == Invitation.Status.PENDING
    assert AccessEvent.objects.filter(action=AccessEvent.Action.FOREIGN_ID, practice=cast.other_practice).count() == 1


@pytest.mark.parametrize("name", ["appointment-resend", "appointment-revoke"])
def test_the_window_actions_require_login(client, cast, name):
    appt = book(cast, cast.pat)
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    assert client.post(reverse(f"clinic:{name}", args=[appt.pk])).status_code == 302
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_resend_rejects_get(client, cast):
    appt = book(cast, cast.pat)
    client.force_login(cast.alice.user)
    assert client.get(reverse("clinic:appointment-resend", args=[appt.pk])).status_code == 405
