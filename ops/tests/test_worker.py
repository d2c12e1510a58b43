"""`manage.py worker`: runs tasks, beats for /health/, and itself retries mail a killed worker left."""

import datetime

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from access.tests.helpers import send
from mail.models import Message
from ops.models import WorkerHeartbeat


def left_sending_by_a_killed_worker(cast, claimed_seconds_ago: int) -> Message:
    """As a worker killed mid-send leaves things: the message claimed, its task taken (running)."""
    send(cast)
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING)
    Message.objects.update(status=Message.Status.SENDING, attempts=1,
                           claimed_at=timezone.now() - datetime.timedelta(seconds=claimed_seconds_ago))
    return Message.objects.get()


@pytest.mark.django_db(transaction=True)
def test_it_delivers_queued_mail_and_beats(cast, smtp_server):
    send(cast)
    call_command("worker", once=True)
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [["pat@example.test"]]
    assert Message.objects.get().status == Message.Status.SENT
    (heartbeat,) = WorkerHeartbeat.objects.all()
    assert timezone.now() - heartbeat.beat_at < datetime.timedelta(seconds=30)


@pytest.mark.django_db(transaction=True)
def test_it_retries_mail_left_sending_once_the_lease_is_over(cast, smtp_server, settings):
    settings.PORTICO_MAIL_LEASE_SECONDS = 300
    message = left_sending_by_a_killed_worker(cast, claimed_seconds_ago=301)
    call_command("worker", once=True)  # no run_periodic anywhere
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [["pat@example.test"]]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Message.Status.SENT, 2)


@pytest.mark.django_db(transaction=True)
def test_it_leaves_mail_another_worker_may_still_be_sending(cast, smtp_server, settings):
    settings.PORTICO_MAIL_LEASE_SECONDS = 300
    message = left_sending_by_a_killed_worker(cast, claimed_seconds_ago=200)
    call_command("worker", once=True)
    assert smtp_server.envelopes == []
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Message.Status.SENDING, 1)


@pytest.mark.django_db(transaction=True)
def test_it_forgets_workers_gone_for_a_day(cast):
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker="gone:1", beat_at=now - datetime.timedelta(days=1, seconds=1))
    WorkerHeartbeat.objects.create(worker="quiet:2", beat_at=now - datetime.timedelta(hours=23))
    call_command("worker", once=True)
    workers = set(WorkerHeartbeat.objects.values_list("worker", flat=True))
    assert "gone:1" not in workers and "quiet:2" in workers and len(workers) == 2  # and this one
