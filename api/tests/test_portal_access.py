import datetime

import pytest

from access.actions import sending
from access.models import AccessEvent, Channel, Invitation
from access.tests.helpers import connect, snapshot
from clinic.models import Appointment
from mail.models import Message

START = datetime.datetime(2026, 12, 1, 15, 0, tzinfo=datetime.UTC)


def url(patient, rest: str = "") -> str:
    return f"/patients/{patient.pk}/portal_access{rest}"


def book(cast, patient) -> Appointment:
    return Appointment.objects.create(practice=patient.practice, patient=patient, doctor=cast.dora, starts_at=START,
                                      ends_at=START + datetime.timedelta(minutes=30))


def test_it_summarises_a_patient_who_can_be_invited(api, cast):
    assert api.get(url(cast.pat)).json() == {
        "status": "not_invited", "status_label": "Not invited", "eligible": True, "missing": [],
        "email_failed": False, "text_failed": False, "invitation": None, "connection": None,
        "actions": {"can_invite": True, "invite_blocked_reason": "", "can_revoke_invitation": False,
                    "can_revoke_access": False, "can_resend": False},
    }


def test_it_says_what_is_missing(api, cast):
    body = api.get(url(cast.ned)).json()
    assert body["status"] == "not_eligible" and not body["eligible"]
    assert body["missing"] == ["Add an email address",
                               "Add a social security number, or a date of birth and a phone number"]
    assert body["actions"]["can_invite"] is False
    assert body["actions"]["invite_blocked_reason"].startswith("Not eligible yet")


def test_it_shows_the_pending_invitation_and_what_can_be_done(api, cast):
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    body = api.get(url(cast.pat)).json()
    assert body["status"] == "pending"
    assert body["invitation"]["id"] == sent.invitation.pk
    assert body["invitation"]["channel"] == "chart" and body["invitation"]["sent_by"] == "Adams"
    assert body["actions"] == {"can_invite": False, "invite_blocked_reason": body["actions"]["invite_blocked_reason"],
                               "can_revoke_invitation": True, "can_revoke_access": False, "can_resend": True}


def test_it_shows_the_connection(api, cast):
    _, connection = connect(cast)
    body = api.get(url(cast.pat)).json()
    assert body["status"] == "connected"
    assert body["connection"]["connected_at"].startswith(connection.connected_at.strftime("%Y-%m-%dT%H:%M"))
    assert body["actions"]["can_revoke_access"] and not body["actions"]["can_resend"]


def test_it_sends_an_invitation_through_the_same_action(api, cast):
    response = api.post(url(cast.pat))
    assert response.status_code == 201
    invitation = Invitation.objects.get()
    assert response.json()["id"] == invitation.pk and response.json()["channel"] == "api"
    assert (invitation.sent_by, invitation.channel) == (cast.alice, Channel.API)
    event = AccessEvent.objects.get(action=AccessEvent.Action.INVITATION_SENT)
    assert (event.actor, event.channel) == (cast.alice.user, Channel.API)
    message = Message.objects.get(kind="invitation")
    token = message.secret_link.rsplit("/", 2)[-2] if message.secret_link.endswith("/") else \
        message.secret_link.rsplit("/", 1)[-1]
    assert len(token) == 43 and token.encode() not in response.content
    assert set(response.json()) == {"id", "status", "email", "channel", "sent_at", "expires_at", "sent_by"}


def test_it_records_the_appointment_channel(api, cast):
    appointment = book(cast, cast.pat)
    assert api.post(url(cast.pat), {"appointment": appointment.pk}).status_code == 201
    assert Invitation.objects.get().channel == Channel.APPOINTMENT


def test_it_refuses_another_patients_appointment(api, cast):
    appointment = book(cast, cast.ned)
    before = snapshot()
    response = api.post(url(cast.pat), {"appointment": appointment.pk})
    assert response.status_code == 422 and "appointment" in response.json()["errors"]
    assert snapshot() == before


def test_it_refuses_to_invite_an_ineligible_patient_listing_what_is_missing(api, cast):
    before = snapshot()
    response = api.post(url(cast.ned))
    assert response.status_code == 422
    assert response.json()["code"] == "not_eligible"
    assert response.json()["missing"] == ["Add an email address",
                                          "Add a social security number, or a date of birth and a phone number"]
    assert snapshot() == before


@pytest.mark.parametrize("setup, code", [("pending", "already_pending"), ("connected", "already_connected")])
def test_it_refuses_to_invite_twice_saying_why(api, cast, setup, code):
    if setup == "pending":
        sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    else:
        connect(cast)
    before = snapshot()
    response = api.post(url(cast.pat))
    assert response.status_code == 409
    assert response.json()["code"] == code
    assert snapshot() == before


def test_it_revokes_the_pending_invitation(api, cast):
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    response = api.delete(url(cast.pat))
    assert response.status_code == 204 and response.content == b""
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.REVOKED


def test_it_revokes_live_access(api, cast):
    _, connection = connect(cast)
    assert api.delete(url(cast.pat)).status_code == 204
    connection.refresh_from_db()
    assert connection.ended_at is not None


def test_it_says_404_when_there_is_nothing_to_revoke(api, cast):
    before = snapshot()
    response = api.delete(url(cast.pat))
    assert response.status_code == 404
    assert response.json()["code"] == "nothing_to_revoke"
    assert snapshot() == before


def test_it_resends(api, cast):
    first = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    response = api.post(url(cast.pat, "/resend"))
    assert response.status_code == 201
    first.invitation.refresh_from_db()
    assert first.invitation.status == Invitation.Status.REVOKED
    assert response.json()["id"] != first.invitation.pk and response.json()["status"] == "pending"


def test_it_pages_the_history_newest_first(api, cast):
    for _ in range(2):
        sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    first = api.get(url(cast.pat, "/history"), limit=2).json()
    rest = api.get(url(cast.pat, "/history"), limit=2, cursor=first["next_cursor"]).json()
    actions_seen = [e["action"] for e in first["items"] + rest["items"]]
    assert actions_seen == ["invitation.sent", "invitation.revoked", "invitation.sent"]
    assert rest["next_cursor"] is None
    assert first["items"][0]["actor_name"] == "Adams"
