"""run_periodic forgets what no longer counts: sign-in, identity and reset guesses a day old, webhook
deliveries finished 30 days ago, task results finished a week ago; each kind in one DELETE; the boundaries at literal times."""

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from access import attempts, signins
from access.actions import acceptance, passwords
from access.models import Attempt
from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from ops import task_results

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


def attempt_at(at: datetime.datetime, kind: str = Attempt.Kind.SIGN_IN) -> Attempt:
    return Attempt.objects.create(kind=kind, username_hash="h", client_ip="203.0.113.9", at=at)


def delivery(endpoint, status: str, last_due: datetime.datetime) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=f"00000000-0000-0000-0000-{WebhookDelivery.objects.count():012d}",
        event_type="portal_access.invited", payload={}, status=status, next_attempt_at=last_due,
        created_at=last_due - datetime.timedelta(hours=1))


@pytest.fixture
def endpoint(cast):
    return WebhookEndpoint.objects.create(practice=cast.practice, url="https://ehr.example.test/h",
                                          secret="whsec_test", created_at=timezone.now())


def deletes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DELETE")]


def test_attempts_a_day_old_are_pruned_newer_ones_kept(db):
    kept = [attempt_at(datetime.datetime(2026, 11, 25, 14, 0, tzinfo=UTC)),  # exactly a day old
            attempt_at(datetime.datetime(2026, 11, 26, 13, 59, tzinfo=UTC), Attempt.Kind.IDENTITY)]
    attempt_at(datetime.datetime(2026, 11, 25, 13, 59, 59, tzinfo=UTC))
    attempt_at(datetime.datetime(2026, 11, 1, 9, 0, tzinfo=UTC), Attempt.Kind.PASSWORD_RESET)
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        assert attempts.prune() == 2
    assert sorted(Attempt.objects.values_list("pk", flat=True)) == sorted(a.pk for a in kept)
    assert len(deletes(queries)) == 1 and not [q for q in queries if "SELECT" in q["sql"].upper()]


def test_attempts_are_kept_longer_than_any_window_counts_them():
    # Pruning must never forget a guess a throttle still counts.
    longest = max(passwords.RESET_WINDOW, acceptance.CLIENT_FAILURE_WINDOW, signins.WINDOW)
    assert longest == datetime.timedelta(hours=1) and attempts.KEEP_FOR >= longest * 2


def test_finished_deliveries_30_days_old_are_pruned_work_never(endpoint):
    exactly_30_days = datetime.datetime(2026, 10, 27, 14, 0, tzinfo=UTC)
    just_older = datetime.datetime(2026, 10, 27, 13, 59, 59, tzinfo=UTC)
    kept = [delivery(endpoint, "delivered", exactly_30_days), delivery(endpoint, "failed", exactly_30_days),
            delivery(endpoint, "delivered", datetime.datetime(2026, 11, 26, 13, 0, tzinfo=UTC)),
            # queued and sending rows are work to do, however old
            delivery(endpoint, "queued", datetime.datetime(2026, 9, 1, tzinfo=UTC)),
            delivery(endpoint, "sending", datetime.datetime(2026, 9, 1, tzinfo=UTC))]
    delivery(endpoint, "delivered", just_older)
    delivery(endpoint, "failed", just_older)
    delivery(endpoint, "delivered", datetime.datetime(2026, 1, 1, tzinfo=UTC))
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        assert webhooks.prune_finished() == 3
    assert sorted(WebhookDelivery.objects.values_list("pk", flat=True)) == sorted(d.pk for d in kept)
    assert len(deletes(queries)) == 1 and not [q for q in queries if "SELECT" in q["sql"].upper()]
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_run_periodic_prunes_both_and_says_so(endpoint, capsys):
    attempt_at(datetime.datetime(2026, 11, 20, tzinfo=UTC))
    delivery(endpoint, "delivered", datetime.datetime(2026, 10, 1, tzinfo=UTC))
    delivery(endpoint, "queued", datetime.datetime(2026, 10, 1, tzinfo=UTC))
    with time_machine.travel(NOW, tick=False):
        call_command("run_periodic", "--once")
    assert capsys.readouterr().out == "2026-11-26 14:00:00 UTC: pruned 1 webhook delivery(ies), pruned 1 attempt(s).\n"
    assert Attempt.objects.count() == 0
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["queued"]


def task_result(status: str, finished_at: datetime.datetime | None,
                started_at: datetime.datetime | None = None) -> DBTaskResult:
    return DBTaskResult.objects.create(status=status, finished_at=finished_at, started_at=started_at,
                                       args_kwargs={"args": [], "kwargs": {}},
                                       task_path="portal.tasks.send_password_reset", backend_name="default",
                                       queue_name="default", run_after=datetime.datetime(2026, 1, 1, tzinfo=UTC))


def test_task_results_finished_a_week_ago_are_pruned_work_never(db):
    exactly_7_days = datetime.datetime(2026, 11, 19, 14, 0, tzinfo=UTC)
    just_older = datetime.datetime(2026, 11, 19, 13, 59, 59, tzinfo=UTC)
    kept = [task_result("SUCCESSFUL", exactly_7_days), task_result("FAILED", exactly_7_days),
            # ready and running tasks are work to do, however old
            task_result("READY", None), task_result("RUNNING", None)]
    task_result("SUCCESSFUL", just_older)
    task_result("FAILED", datetime.datetime(2026, 1, 1, tzinfo=UTC))
    with time_machine.travel(NOW, tick=False):
        assert task_results.prune_finished() == 2
    assert sorted(DBTaskResult.objects.values_list("pk", flat=True)) == sorted(r.pk for r in kept)


def test_run_periodic_says_when_nothing_was_due(db, capsys):
    call_command("run_periodic", "--once")
    assert capsys.readouterr().out == "Nothing was due.\n"


def test_a_task_running_a_day_after_it_started_is_marked_failed(db):
    exactly_a_day = datetime.datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    running = task_result("RUNNING", None, started_at=exactly_a_day)
    lost = task_result("RUNNING", None, started_at=datetime.datetime(2026, 11, 25, 13, 59, 59, tzinfo=UTC))
    ready = task_result("READY", None)
    with time_machine.travel(NOW, tick=False):
        assert task_results.fail_abandoned() == 1
    statuses = dict(DBTaskResult.objects.values_list("pk", "status"))
    assert statuses == {running.pk: "RUNNING", lost.pk: "FAILED", ready.pk: "READY"}
    lost.refresh_from_db()
    assert lost.finished_at == NOW and "worker is taken for lost" in lost.traceback
