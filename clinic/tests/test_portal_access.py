import datetime

import time_machine
from django.urls import reverse

from access.actions import acceptance, sending
from access.models import AccessEvent, Channel

NOW = datetime.datetime(2026, 11, 25, 15, 0, tzinfo=datetime.UTC)  # 10:00 in New York; invitations expire 2 Dec


def url(patient) -> str:
    return reverse("clinic:portal-access", args=[patient.pk])


def connect(patient) -> None:
    """Invite the patient and let them accept, as the portal would."""
    sent = sending.send_invitation(patient, by=None, channel=Channel.CHART)
    proof = acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn=patient.ssn)).proof
    acceptance.accept_invitation(sent.token, proof=proof, password="a-long-patient-password")


def test_it_requires_login(client, cast):
    response = client.get(url(cast.pat))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_hides_other_practice(client, cast):
    client.force_login(cast.bob.user)
    assert client.get(url(cast.pat)).status_code == 404
    event = AccessEvent.objects.get()
    assert event.action == AccessEvent.Action.FOREIGN_ID
    assert event.practice == cast.other_practice
    assert event.reason == f"patient {cast.pat.pk}"
    assert event.outcome == AccessEvent.Outcome.FAILURE


def test_it_gives_404_for_a_missing_patient(client, cast):
    client.force_login(cast.alice.user)
    assert client.get(reverse("clinic:portal-access", args=[99999])).status_code == 404
    assert not AccessEvent.objects.exists()


def test_it_shows_not_invited_with_the_button_enabled(client, cast):
    client.force_login(cast.alice.user)
    response = client.get(url(cast.pat))
    html = response.content.decode()
    assert response.context["portal"].state == "not_invited"
    assert ">Not invited<" in html
    assert '<button type="submit" class="primary" id="enable-access">Enable Patient Access</button>' in html
    assert "cannot use the portal yet" not in html
    assert "Revoke" not in html


def test_it_lists_what_is_missing_and_disables_the_button(client, cast):
    client.force_login(cast.alice.user)
    html = client.get(url(cast.ned)).content.decode()
    assert "This patient cannot use the portal yet" in html
    assert "Add an email address" in html
    assert "Add a social security number, or a date of birth and a phone number" in html
    demographics = reverse("clinic:demographics", args=[cast.ned.pk])
    assert f'href="{demographics}#id_email"' in html
    assert f'href="{demographics}#id_ssn"' in html
    assert 'id="enable-access" disabled aria-describedby="enable-reason"' in html
    assert "Not eligible yet" in html


def test_it_shows_pending_with_expiry_in_the_practice_time_zone(client, cast):
    with time_machine.travel(NOW, tick=False):
        sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
        client.force_login(cast.alice.user)
        html = client.get(url(cast.pat)).content.decode()
    # 15:00 UTC is 10:00 in New York (EST).
    assert "The invitation expires <strong>Wed 2 Dec 2026, 10:00 AM EST</strong>" in html
    assert "Revoke Invite" in html
    assert "Resend invitation" in html
    assert "Revoke Access" not in html


def test_it_shows_the_history_newest_first(client, cast):
    with time_machine.travel(NOW, tick=False):
        sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    with time_machine.travel(NOW + datetime.timedelta(hours=1), tick=False):
        sending.revoke_invitation(cast.pat, by=cast.dora, reason="Wrong address")
        client.force_login(cast.alice.user)
        response = client.get(url(cast.pat))
    events = list(response.context["history"])
    assert [e.action for e in events] == ["invitation.revoked", "invitation.sent"]
    html = response.content.decode()
    assert html.index("Invitation revoked") < html.index("Invitation sent")
    assert "25 Nov 2026, 11:00 AM EST" in html
    assert "Dr. Dorsey" in html and "Adams" in html
    assert "Patient chart" in html
    assert "Wrong address" in html


def test_it_shows_connected_with_revoke_access(client, cast):
    connect(cast.pat)
    client.force_login(cast.alice.user)
    html = client.get(url(cast.pat)).content.decode()
    assert ">Connected<" in html
    assert "Connected to the portal since" in html
    assert "Revoke Access" in html
    assert "Revoke Invite" not in html
    assert "Resend invitation" not in html
    assert "Invitation accepted, access granted" in html


def test_it_offers_one_send_when_expired(client, cast):
    with time_machine.travel(NOW, tick=False):
        sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    with time_machine.travel(NOW + datetime.timedelta(days=8), tick=False):
        client.force_login(cast.alice.user)
        html = client.get(url(cast.pat)).content.decode()
    assert ">Expired<" in html
    assert '<button type="submit" class="primary" id="enable-access">Enable Patient Access</button>' in html
    assert "Resend invitation" not in html
    assert "Revoke Invite" not in html


def make_history(patient, by, rounds: int) -> None:
    """Two events a round, one round a day (a patient may be sent only a few invitations a day)."""
    start = patient.invitations.count()
    for day in range(start, start + rounds):
        with time_machine.travel(datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC) + datetime.timedelta(days=day)):
            sending.send_invitation(patient, by=by, channel=Channel.CHART)
            sending.revoke_invitation(patient, by=by)


def test_it_paginates_the_history(client, cast):
    make_history(cast.pat, cast.alice, 15)
    client.force_login(cast.alice.user)
    response = client.get(url(cast.pat), {"page": 2})
    assert len(response.context["history"]) == 5
    assert b"Page 2 of 2" in response.content


def test_it_runs_a_constant_number_of_queries(client, cast, django_assert_max_num_queries):
    make_history(cast.pat, cast.alice, 5)
    make_history(cast.pat, cast.dora, 10)
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    # session (1), user, staff, patient, status, invitation, history count and page, practice, bell,
    # session save (3), the patient's proxies (caregivers of an adult, their links prefetched only if any)
    with django_assert_max_num_queries(14):
        response = client.get(url(cast.pat))
    assert len(response.context["history"]) == 25


def test_it_offers_resend_in_place_of_enable_while_pending(client, cast):
    client.force_login(cast.alice.user)
    url = reverse("clinic:portal-access", args=[cast.pat.pk])
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    html = client.get(url).content.decode()
    assert '<button type="submit" class="primary" id="resend-invitation">Resend invitation</button>' in html
    assert "Enable Patient Access</button>" not in html
    sending.revoke_invitation(cast.pat, by=cast.alice)
    html = client.get(url).content.decode()
    assert '<button type="submit" class="primary" id="enable-access">Enable Patient Access</button>' in html
    assert "Resend invitation" not in html


def test_it_disables_enable_when_connected_and_says_why(client, cast):
    connect(cast.pat)
    client.force_login(cast.alice.user)
    html = client.get(url(cast.pat)).content.decode()
    assert 'id="enable-access" disabled aria-describedby="enable-reason"' in html
    assert "This patient is already connected to the portal." in html
