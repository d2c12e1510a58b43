"""portico.outbox, as mail and webhooks use it: a claim takes due rows under a lease, a killed worker's
rows come back once its lease ran out, a worker whose lease was taken over records nothing, and one
backoff schedule for every failed try."""

import datetime

import pytest
import time_machine

from mail.models import Message
from portico import outbox

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
LEASE = datetime.timedelta(minutes=5)


def queue(key: str, due_in: datetime.timedelta = datetime.timedelta(0)) -> Message:
    return Message.objects.create(kind="digest", to="staff@example.test", dedupe_key=key,
                                  next_attempt_at=NOW + due_in, created_at=NOW)


@pytest.mark.django_db
def test_a_claim_takes_due_rows_in_order_and_marks_them_with_its_lease():
    later, first, _not_due = queue("b", datetime.timedelta(seconds=-1)), queue("a", datetime.timedelta(seconds=-2)), \
        queue("c", datetime.timedelta(seconds=1))
    with time_machine.travel(NOW, tick=False):
        claimed_at, rows = outbox.claim(Message, 10, "w1", lease=LEASE)
    assert [r.pk for r in rows] == [first.pk, later.pk] and claimed_at == NOW
    stored = list(Message.objects.filter(pk__in=[first.pk, later.pk]).values_list("status", "claimed_by", "attempts"))
    assert stored == [("sending", "w1", 1)] * 2
    assert [r.attempts for r in rows] == [1, 1]


@pytest.mark.django_db
def test_a_killed_workers_rows_come_back_after_the_lease_and_it_can_then_record_nothing():
    row = queue("a")
    with time_machine.travel(NOW, tick=False):
        claimed_at, _ = outbox.claim(Message, 10, "killed", lease=LEASE)
    with time_machine.travel(NOW + LEASE - datetime.timedelta(seconds=1), tick=False):
        assert outbox.claim(Message, 10, "w2", lease=LEASE)[1] == []  # the lease still holds
    with time_machine.travel(NOW + LEASE, tick=False):
        _, [again] = outbox.claim(Message, 10, "w2", lease=LEASE)
    assert again.pk == row.pk and again.attempts == 2
    assert outbox.held(Message, [row.pk], "killed", claimed_at).update(status="sent") == 0
    assert outbox.held(Message, [row.pk], "w2", again.claimed_at).update(status="sent") == 1


@pytest.mark.parametrize(("attempts", "wait"), [
    (1, datetime.timedelta(seconds=30)), (2, datetime.timedelta(minutes=1)), (3, datetime.timedelta(minutes=2)),
    (4, datetime.timedelta(minutes=4)), (5, datetime.timedelta(minutes=8)), (6, datetime.timedelta(minutes=16)),
    (7, datetime.timedelta(minutes=32)), (8, None), (9, None),
])
def test_one_backoff_for_every_outbox_doubles_from_30_seconds_and_stops_after_8_tries(attempts, wait):
    assert outbox.RETRY.wait_after(attempts) == wait
