"""Delivery outcomes in the access history: mail tells access once per delivered batch
(mail.signals.messages_delivered) and access records the whole batch set-wise."""

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access import history
from access.actions import outcomes, sending
from access.models import AccessEvent, Channel
from access.tests.helpers import actions_of, send
from access.tests.test_send_invitations import make_patients
from clinic.models import Notification
from mail import delivery
from mail.models import Message


def queue_other_mail(cast) -> None:
    """A mail that is not about an invitation (the patient-connected confirmation)."""
    now = timezone.now()
    Message.objects.create(kind="connected", to="someone@example.test", dedupe_key="test:connected",
                           next_attempt_at=now, created_at=now,
                           context={"practice": cast.practice.name, "portal_url": "https://x.test/portal/"})


def test_a_delivered_batch_records_one_event_per_invitation_email_and_none_for_other_mail(cast, smtp_server):
    send(cast)
    sending.send_invitation(cast.bea, by=cast.bob, channel=Channel.CHART)
    queue_other_mail(cast)
    assert delivery.send_batch() == 3
    assert len(smtp_server.envelopes) == 3
    assert actions_of(cast.pat) == ["invitation.sent", "email.sent"]
    assert actions_of(cast.bea) == ["invitation.sent", "email.sent"]
    assert AccessEvent.objects.count() == 4  # the connected mail added nothing
    sent = AccessEvent.objects.get(patient=cast.pat, action="email.sent")
    assert (sent.actor_kind, sent.channel, sent.outcome) == ("system", "chart", "success")


def test_a_delivered_batch_is_sealed_and_verifies(cast, smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(cast)
        delivery.send_batch()
    assert history.unsealed_count(cast.practice) == 0
    assert history.first_broken_event(cast.practice) is None


def test_recording_a_batch_takes_the_same_queries_for_one_invitation_or_many(cast):
    sent = sending.send_invitations(make_patients(cast.practice, 3), by=cast.alice, channel=Channel.BULK)
    ids = [o.sent.invitation.pk for o in sent]
    counts = []
    for batch in ([ids[0]], ids * 2):
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            outcomes.record_email_outcomes(batch, delivered=True)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # One event per email: an invitation may come twice in a batch (its email and its reminder).
    assert AccessEvent.objects.filter(action="email.sent", invitation_id=ids[1]).count() == 2


def test_a_failed_batch_tells_staff_about_each_invitation(cast):
    ids = [send(cast).invitation.pk, sending.send_invitation(cast.bea, by=cast.bob, channel=Channel.CHART).invitation.pk]
    outcomes.record_email_outcomes(ids, delivered=False)
    assert actions_of(cast.pat)[-1] == actions_of(cast.bea)[-1] == "email.failed"
    # Pat's sender (Alice) and doctor (Dora); Bea has no doctor: her sender (Bob).
    told = set(Notification.objects.values_list("recipient__user__username", "text"))
    assert told == {("alice", "The portal invitation email to Pat Jones could not be delivered."),
                    ("dora", "The portal invitation email to Pat Jones could not be delivered."),
                    ("bob", "The portal invitation email to Bea Hart could not be delivered.")}


def test_one_record_that_fails_does_not_lose_the_rest_of_the_batch(cast, smtp_server, monkeypatch):
    broken = send(cast).invitation.pk
    sending.send_invitation(cast.bea, by=cast.bob, channel=Channel.CHART)
    record = outcomes.record_email_outcomes

    def fails_for_one(ids, **kwargs):
        if broken in ids:
            raise RuntimeError("history unavailable for this one")
        record(ids, **kwargs)

    monkeypatch.setattr(outcomes, "record_email_outcomes", fails_for_one)
    assert delivery.send_batch() == 2
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}  # never sent again
    assert actions_of(cast.pat) == ["invitation.sent"]
    assert actions_of(cast.bea) == ["invitation.sent", "email.sent"]
