"""Staff are told (the bell) when they must act: an invitation locks, expires unaccepted, its email
fails for good, a patient disconnects; each names the patient and links to Portal Access. The daily
digest emails each notification once, at most once a day, to those who asked for it."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from access import errors
from access.actions import acceptance, expiry, notifications, outcomes, sending
from access.models import Connection
from access.tests.helpers import connect, send
from access.tests.test_send_invitations import make_patients
from clinic.models import Notification
from conftest import NOW
from mail.models import Message

DAY = datetime.timedelta(days=1)


def texts(member) -> list[str]:
    return list(member.notifications.order_by("id").values_list("text", flat=True))


def test_a_lock_tells_the_sender_and_the_doctor(cast):
    sent = send(cast)
    for _ in range(3):
        with pytest.raises(errors.Refusal):
            acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn="987-65-4321"))
    said = "Pat Jones's portal invitation locked after 3 failed identity checks."
    assert texts(cast.alice) == texts(cast.dora) == [said]
    assert Notification.objects.filter(patient=cast.pat).count() == 2


def test_an_expiry_is_told_once_by_the_sweep(cast):
    with time_machine.travel(NOW, tick=False):
        send(cast)
    with time_machine.travel(NOW + 7 * DAY, tick=False):
        assert expiry.expire_invitations() == 1
        assert expiry.expire_invitations() == 0
    assert texts(cast.alice) == ["Pat Jones's portal invitation expired without being accepted."]


@pytest.mark.parametrize(("lapsed", "expected"), [
    (5, [f"Test{n} Bulk's portal invitation expired without being accepted." for n in range(5)]),
    (6, ["6 portal invitations expired without being accepted. The patient list's Expired filter shows them."]),
])
def test_a_sweep_tells_of_up_to_five_patients_one_by_one_and_of_more_in_one_notification(cast, lapsed, expected):
    patients = make_patients(cast.practice, lapsed)
    with time_machine.travel(NOW, tick=False):
        sending.send_invitations(patients, by=cast.alice, channel="bulk")
    with time_machine.travel(NOW + 7 * DAY, tick=False):
        assert expiry.expire_invitations() == lapsed
    assert texts(cast.alice) == expected
    summaries = Notification.objects.filter(recipient=cast.alice, patient__isnull=True).count()
    assert summaries == (1 if lapsed == 6 else 0)


def test_many_failed_emails_are_told_in_one_notification(cast):
    patients = make_patients(cast.practice, 6)
    sent = sending.send_invitations(patients, by=cast.alice, channel="bulk")
    outcomes.record_email_outcomes([o.sent.invitation.pk for o in sent], delivered=False)
    assert texts(cast.alice) == [
        "6 portal invitation emails could not be delivered. The patient list marks them “Email failed”."]


def test_an_automatic_invitation_without_a_doctor_tells_the_practice_admins(cast, django_user_model):
    from clinic.models import StaffMember

    admin = StaffMember.objects.create(user=django_user_model.objects.create_user("manager"), practice=cast.practice,
                                       role=StaffMember.Role.ADMIN)
    cast.pat.doctor = None
    cast.pat.save()
    with time_machine.travel(NOW, tick=False):
        sending.send_invitation(cast.pat, by=None, channel="automatic")
    with time_machine.travel(NOW + 7 * DAY, tick=False):
        expiry.expire_invitations()
    assert texts(admin) == ["Pat Jones's portal invitation expired without being accepted."]
    assert texts(cast.alice) == []


def test_a_disconnection_is_told(cast):
    connect(cast)
    acceptance.disconnect_practice(Connection.objects.get())
    assert texts(cast.dora)[-1] == "Pat Jones disconnected from the portal."


def test_a_failed_email_is_told(cast):
    sent = send(cast)
    outcomes.record_email_outcome(sent.invitation.pk, delivered=False)
    assert texts(cast.alice) == ["The portal invitation email to Pat Jones could not be delivered."]


def test_the_bell_links_each_to_portal_access(client, cast):
    with time_machine.travel(NOW, tick=False):
        send(cast)
    with time_machine.travel(NOW + 30 * DAY, tick=False):
        expiry.expire_invitations()
    client.force_login(cast.alice.user)
    html = client.get(reverse("clinic:notifications")).content.decode()
    assert "Pat Jones&#x27;s portal invitation expired without being accepted." in html
    assert f'href="{reverse("clinic:portal-access", args=[cast.pat.pk])}"' in html


@pytest.fixture
def wants_digest(cast):
    cast.dora.daily_digest = True
    cast.dora.save()
    cast.dora.user.email = "dora@example.test"
    cast.dora.user.save()


def note(cast, text: str, at: datetime.datetime) -> None:
    Notification.objects.create(recipient=cast.dora, patient=cast.pat, text=text, created_at=at)


def digest_at(moment: datetime.datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return notifications.send_digests()


def test_the_digest_lists_each_notification_once_and_goes_at_most_once_a_day(cast, wants_digest):
    note(cast, "First.", NOW)
    assert digest_at(NOW) == 1
    digest = Message.objects.get(kind="digest")
    assert digest.to == "dora@example.test"
    assert [item["text"] for item in digest.context["items"]] == ["First."]
    assert digest.context["items"][0]["url"].endswith(reverse("clinic:portal-access", args=[cast.pat.pk]))
    note(cast, "Second.", NOW + DAY / 2)
    assert digest_at(NOW + DAY - datetime.timedelta(seconds=1)) == 0  # not yet a day
    assert digest_at(NOW + DAY) == 1
    latest = Message.objects.filter(kind="digest").order_by("-id").first()
    assert [item["text"] for item in latest.context["items"]] == ["Second."]
    assert digest_at(NOW + 3 * DAY) == 0  # nothing new: no email


def test_no_digest_unless_asked(cast):
    cast.dora.user.email = "dora@example.test"
    cast.dora.user.save()
    note(cast, "First.", NOW)
    assert digest_at(NOW) == 0


def test_staff_turn_the_digest_on_and_off(client, cast):
    client.force_login(cast.alice.user)
    url = reverse("clinic:notifications-digest")
    assert client.get(url).status_code == 405
    client.post(url, {"daily_digest": "on"})
    cast.alice.refresh_from_db()
    assert cast.alice.daily_digest is True
    client.post(url, {})
    cast.alice.refresh_from_db()
    assert cast.alice.daily_digest is False
