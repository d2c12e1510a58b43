"""run_periodic's scheduled work is set-wise: the queries a round makes do not grow with the number of
due rows (reminders, re-invites, expiries, digests), and nothing is sent or notified twice."""

import datetime
from collections import Counter

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access.models import AccessEvent, Invitation
from access.tests.test_send_invitations import make_patients
from clinic.models import Notification
from conftest import NOW, at_once, postgres_only
from mail.models import Message
from ops.periodic import run_once

DAY = datetime.timedelta(days=1)


def due_work(cast, count: int, prefix: str = "") -> None:
    """`count` patients with each kind of due work at NOW + 30 days: an invitation due for its reminder,
    one lapsing, one unanswered for 30 days (to re-invite), and notifications for a digest."""
    cast.practice.reinvite_after_days = 30
    cast.practice.save()
    cast.dora.daily_digest = True
    cast.dora.save()
    cast.dora.user.email = "dora@example.test"
    cast.dora.user.save()
    moment = NOW + 30 * DAY
    for kind, sent_at in (("R", moment - 5 * DAY), ("E", moment - 7 * DAY), ("I", NOW)):
        for patient in make_patients(cast.practice, count, prefix=prefix + kind):
            Invitation.objects.create(practice=cast.practice, patient=patient, token_hash=f"{kind}{patient.pk:063d}",
                                      email=patient.email, channel="chart", sent_by=cast.dora, sent_at=sent_at,
                                      expires_at=sent_at + 7 * DAY, status="expired" if kind == "I" else "pending")


def queries_for_a_round(cast, count: int, prefix: str = "") -> tuple[int, dict]:
    due_work(cast, count, prefix)
    with time_machine.travel(NOW + 30 * DAY, tick=False), CaptureQueriesContext(connection) as queries:
        done = run_once()
    return len(queries), done


@pytest.mark.parametrize("count", [1, 50])
def test_a_round_does_everything_that_is_due(cast, count):
    _, done = queries_for_a_round(cast, count)
    assert (done["reminded"], done["expired"], done["reinvited"], done["digests"]) == (count, count, count, 1)
    assert Message.objects.filter(kind="reminder").count() == count
    assert Message.objects.filter(kind="invitation").count() == count
    digest = Message.objects.get(kind="digest")
    # One expiry notification per lapsed invitation, or one saying how many past five.
    assert digest.context["count"] == (count if count <= 5 else 1)
    with time_machine.travel(NOW + 30 * DAY + 60 * datetime.timedelta(seconds=1), tick=False):
        again = run_once()
    del again["sealed"]  # (the test's transaction never commits, so the sealer runs here instead)
    assert set(again.values()) == {0}  # a minute later nothing is done twice


def test_the_query_count_does_not_grow_with_the_due_rows(cast):
    one, _ = queries_for_a_round(cast, 1)
    AccessEvent.objects.all().delete()
    Invitation.objects.all().delete()
    Notification.objects.all().delete()
    Message.objects.all().delete()
    cast.dora.last_digest_at = None
    cast.dora.save()
    fifty, done = queries_for_a_round(cast, 50, prefix="X")
    assert done["reminded"] == 50
    assert fifty == one


def test_the_command_prints_what_it_did(cast, capsys):
    due_work(cast, 2)
    with time_machine.travel(NOW + 30 * DAY, tick=False):
        call_command("run_periodic", "--once")
    assert capsys.readouterr().out == ("2026-12-02 15:00:00 UTC: expired 2 invitation(s), re-invited 2 patient(s), "
                                       "sent 2 reminder(s), queued 1 digest(s).\n")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_nodes_running_the_same_round_at_once_do_each_thing_once(cast):
    """Every node runs run_periodic (README "Scaling out": nothing must run once): two rounds at the
    same moment, over the same due rows, neither fail (no deadlock) nor send, expire or notify twice."""
    due_work(cast, 30)
    with time_machine.travel(NOW + 30 * DAY, tick=False):
        rounds = at_once(run_once, run_once)
    assert all(isinstance(done, dict) for done in rounds), rounds
    totals = {kind: sum(done[kind] for done in rounds) for kind in ("reminded", "expired", "reinvited", "digests")}
    assert totals == {"reminded": 30, "expired": 30, "reinvited": 30, "digests": 1}
    assert Counter(Message.objects.values_list("kind", flat=True)) == {"reminder": 30, "invitation": 30, "digest": 1}
    assert Counter(AccessEvent.objects.values_list("action", flat=True)) == Counter(
        {"invitation.expired": 30, "invitation.link_reissued": 30, "invitation.sent": 30})
    assert Notification.objects.filter(digested_at__isnull=True).count() == 0
