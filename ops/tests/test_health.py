"""`/health/` is for a load balancer: it fails only when this web node cannot serve (the database does not
answer). `/health/workers/` is for a monitor of the background side: it fails when no task worker beat
lately as well. Both give the same report."""

import datetime
import json

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from conftest import NOW
from mail.models import Message
from ops.health import beat

WEB, WORKERS = "/health/", "/health/workers/"


def probe(client, url: str) -> tuple[int, dict]:
    response = client.get(url)
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    return response.status_code, json.loads(response.content)


def probe_both(client) -> dict[str, tuple[int, dict]]:
    with time_machine.travel(NOW, tick=False):
        return {url: probe(client, url) for url in (WEB, WORKERS)}


def beat_at(moment: datetime.datetime, worker: str = "host:1") -> None:
    with time_machine.travel(moment, tick=False):
        beat(worker)


def queue(to: str, created_at: datetime.datetime, status=Message.Status.QUEUED) -> Message:
    return Message.objects.create(kind="invitation", to=to, dedupe_key=f"{to}-{status}", status=status,
                                  next_attempt_at=created_at, created_at=created_at)


@pytest.mark.django_db
def test_without_a_worker_heartbeat_only_the_workers_probe_fails(client):
    silent = {"database": "ok", "worker": "silent", "worker_last_seen_seconds": None, "mail_queued": 0,
              "mail_oldest_queued_seconds": None}
    assert probe_both(client) == {WEB: (200, silent), WORKERS: (503, silent)}


@pytest.mark.django_db
def test_after_a_heartbeat_both_probes_pass(client):
    beat_at(NOW - datetime.timedelta(seconds=3))
    alive = {"database": "ok", "worker": "ok", "worker_last_seen_seconds": 3, "mail_queued": 0,
             "mail_oldest_queued_seconds": None}
    assert probe_both(client) == {WEB: (200, alive), WORKERS: (200, alive)}


@pytest.mark.django_db
@pytest.mark.parametrize(("silent_for", "worker", "workers_status"), [
    (datetime.timedelta(minutes=5), "ok", 200),
    (datetime.timedelta(minutes=5, seconds=1), "silent", 503),
])
def test_workers_are_silent_after_five_minutes_without_a_beat(client, silent_for, worker, workers_status):
    beat_at(NOW - silent_for)
    answers = probe_both(client)
    assert answers[WORKERS][0] == workers_status
    assert answers[WEB][0] == 200  # the web node serves either way
    assert answers[WEB][1]["worker"] == answers[WORKERS][1]["worker"] == worker


@pytest.mark.django_db
def test_the_latest_of_several_workers_counts(client):
    beat_at(NOW - datetime.timedelta(hours=2), "host:1")
    beat_at(NOW - datetime.timedelta(seconds=10), "host:2")
    answers = probe_both(client)
    assert answers[WORKERS][0] == 200
    assert answers[WEB][1]["worker_last_seen_seconds"] == answers[WORKERS][1]["worker_last_seen_seconds"] == 10


@pytest.mark.django_db
def test_both_report_the_mail_backlog_without_personal_data(client):
    beat_at(NOW)
    queue("old@example.test", NOW - datetime.timedelta(seconds=90))
    queue("new@example.test", NOW - datetime.timedelta(seconds=30))
    queue("sent@example.test", NOW - datetime.timedelta(hours=5), status=Message.Status.SENT)
    queue("failed@example.test", NOW - datetime.timedelta(hours=6), status=Message.Status.FAILED)
    for url, (status, body) in probe_both(client).items():
        assert status == 200, url  # a backlog is for a monitor to judge
        assert (body["mail_queued"], body["mail_oldest_queued_seconds"]) == (2, 90)
        assert "@" not in json.dumps(body)


@pytest.mark.django_db
@pytest.mark.parametrize("url", [WEB, WORKERS])
def test_both_fail_when_the_database_fails(client, url):
    beat_at(timezone.now())  # a live worker does not make a node without its database serve
    with connection.cursor() as cursor:  # undone with the test's transaction
        cursor.execute("DROP TABLE ops_workerheartbeat")
    assert probe(client, url) == (503, {"database": "unreachable"})


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "status"), [(WEB, 200), (WORKERS, 503)])
def test_they_need_no_sign_in_and_refuse_post(client, url, status):
    assert client.get(url).status_code == status  # not a redirect to the sign-in page
    assert client.post(url).status_code == 405


@pytest.mark.django_db
def test_with_a_host_only_that_machines_workers_count(client):
    beat_at(NOW - datetime.timedelta(seconds=2), worker="node-a:41:1a2b3c4d")
    beat_at(NOW - datetime.timedelta(minutes=5, seconds=1), worker="node-b:41:5e6f7a8b")
    with time_machine.travel(NOW, tick=False):
        assert probe(client, WORKERS + "?host=node-a")[0] == 200
        status, body = probe(client, WORKERS + "?host=node-b")
        assert (status, body["worker"], body["worker_last_seen_seconds"]) == (503, "silent", 301)
        assert probe(client, WORKERS + "?host=node")[0] == 503  # a prefix of a name is not that machine
        assert probe(client, WORKERS + "?host=node-c")[0] == 503
        assert probe(client, WORKERS)[0] == 200  # any machine's worker


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["node-a:41", "%", "-node", "a" * 45, "node a"])
def test_a_host_that_is_not_a_host_name_is_refused(client, host):
    response = client.get(WORKERS, {"host": host})
    assert response.status_code == 400
    assert "host name" in json.loads(response.content)["error"]
