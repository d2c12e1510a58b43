import datetime
import json

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from conftest import NOW
from mail.models import Message
from ops.health import beat


def health(client) -> tuple[int, dict]:
    response = client.get("/health/")
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    return response.status_code, json.loads(response.content)


def beat_at(moment: datetime.datetime, worker: str = "host:1") -> None:
    with time_machine.travel(moment, tick=False):
        beat(worker)


def queue(to: str, created_at: datetime.datetime, status=Message.Status.QUEUED) -> Message:
    return Message.objects.create(kind="invitation", to=to, dedupe_key=f"{to}-{status}", status=status,
                                  next_attempt_at=created_at, created_at=created_at)


@pytest.mark.django_db
def test_it_is_unhealthy_without_a_worker_heartbeat(client):
    with time_machine.travel(NOW, tick=False):
        status, body = health(client)
    assert status == 503
    assert body == {"healthy": False, "database": "ok", "worker": "silent", "worker_last_seen_seconds": None,
                    "mail_queued": 0, "mail_oldest_queued_seconds": None}


@pytest.mark.django_db
def test_it_is_healthy_after_a_heartbeat(client):
    beat_at(NOW - datetime.timedelta(seconds=3))
    with time_machine.travel(NOW, tick=False):
        status, body = health(client)
    assert status == 200
    assert body["healthy"] is True and body["worker"] == "ok" and body["worker_last_seen_seconds"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize(("silent_for", "status"), [(300, 200), (301, 503)])
def test_it_is_unhealthy_after_five_silent_minutes(client, silent_for, status):
    beat_at(NOW - datetime.timedelta(seconds=silent_for))
    with time_machine.travel(NOW, tick=False):
        assert health(client)[0] == status


@pytest.mark.django_db
def test_the_latest_of_several_workers_counts(client):
    beat_at(NOW - datetime.timedelta(hours=2), "host:1")
    beat_at(NOW - datetime.timedelta(seconds=10), "host:2")
    with time_machine.travel(NOW, tick=False):
        assert health(client)[1]["worker_last_seen_seconds"] == 10


@pytest.mark.django_db
def test_it_reports_the_mail_backlog_without_personal_data(client):
    beat_at(NOW)
    queue("old@example.test", NOW - datetime.timedelta(seconds=90))
    queue("new@example.test", NOW - datetime.timedelta(seconds=30))
    queue("sent@example.test", NOW - datetime.timedelta(hours=5), status=Message.Status.SENT)
    queue("failed@example.test", NOW - datetime.timedelta(hours=6), status=Message.Status.FAILED)
    with time_machine.travel(NOW, tick=False):
        status, body = health(client)
    assert status == 200  # a backlog is for a monitor to judge
    assert (body["mail_queued"], body["mail_oldest_queued_seconds"]) == (2, 90)
    assert "@" not in json.dumps(body)


@pytest.mark.django_db
def test_it_is_unhealthy_when_the_database_fails(client):
    beat_at(timezone.now())
    with connection.cursor() as cursor:  # undone with the test's transaction
        cursor.execute("DROP TABLE ops_workerheartbeat")
    status, body = health(client)
    assert (status, body) == (503, {"healthy": False, "database": "unreachable"})


@pytest.mark.django_db
def test_it_needs_no_sign_in_and_refuses_post(client):
    assert client.get("/health/").status_code == 503  # not a redirect to the sign-in page
    assert client.post("/health/").status_code == 405
