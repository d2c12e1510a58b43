"""The patient's emails over real SMTP: the revoke notice (queued with the revoke itself), times as
people say them, and the practice's phone where the patient may need to call."""

from unittest import mock

import pytest
import time_machine

from access.actions import sending
from access.models import AccessEvent
from access.tests.helpers import connect, send
from conftest import NOW, SOON, run_worker
from mail.models import Message


def _mail(smtp_server, subject_start: str):
    (message,) = [m for m in smtp_server.messages() if m["Subject"].startswith(subject_start)]
    return message["To"], message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_a_revoked_patient_is_told_and_told_how_to_reach_the_practice(cast, smtp_server):
    cast.practice.phone = "+15555550100"
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        connect(cast)
        sending.revoke_invitation(cast.pat, by=cast.alice, reason="Moved away")
    run_worker()
    to, text, html = _mail(smtp_server, "Maple Street Clinic ended your patient portal access")
    assert to == "pat@example.test"
    assert "Maple Street Clinic has ended your access to its patient portal." in text
    assert "contact Maple Street Clinic at (555) 555-0100: they can send you a new invitation." in text
    assert '<a href="tel:(555) 555-0100">(555) 555-0100</a>' in html


def test_the_revoke_notice_is_queued_in_the_revokes_own_transaction(cast):
    with time_machine.travel(NOW, tick=False):
        connect(cast)
    # A failure after the notice was queued (the last step of the revoke) takes the notice with it.
    with mock.patch("access.actions.sending.log.info", side_effect=RuntimeError("crash after queueing")), \
            pytest.raises(RuntimeError):
        sending.revoke_invitation(cast.pat, by=cast.alice)
    assert not Message.objects.filter(kind="access-revoked").exists()
    assert cast.pat.connections.get().ended_at is None
    sending.revoke_invitation(cast.pat, by=cast.alice)
    assert Message.objects.filter(kind="access-revoked").count() == 1
    assert AccessEvent.objects.filter(action="access.revoked").count() == 1


def test_no_notice_when_only_an_invitation_is_revoked(cast):
    with time_machine.travel(NOW, tick=False):
        send(cast)
        sending.revoke_invitation(cast.pat, by=cast.alice)
    assert not Message.objects.filter(kind="access-revoked").exists()


def test_the_invitation_says_when_it_ends_as_people_say_it(cast, smtp_server):
    with time_machine.travel(NOW, tick=False):  # sent 10:00 AM Eastern on 2 November; 7 days
        send(cast)
    with time_machine.travel(SOON):  # the worker reaches it while the invitation is pending
        run_worker()
    _, text, html = _mail(smtp_server, "Maple Street Clinic invites you")
    assert "The link works until Monday, November 9 at 10:00 AM Eastern." in text
    assert "America/New_York" not in text + html


def test_the_connected_email_gives_the_practice_phone(cast, smtp_server):
    cast.practice.phone = "+15555550100"
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        connect(cast)
    run_worker()
    _, text, _ = _mail(smtp_server, "You are now connected")
    assert "contact Maple Street Clinic right away at (555) 555-0100 so they can revoke the access." in text
