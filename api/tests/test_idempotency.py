import datetime
import hashlib
import io
from unittest import mock

import pytest
import time_machine
from django.core.management import call_command

from access.models import Invitation
from api import tokens
from api.models import IdempotentRequest
from api.tests.conftest import ApiClient
from conftest import NOW, at_once, postgres_only
from mail.models import Message


def invite(api, cast, key: str, body=None, patient=None):
    return api.post(f"/patients/{(patient or cast.pat).pk}/portal_access", body, headers={"Idempotency-Key": key})


def test_the_same_request_five_times_sends_one_invitation_and_one_email(api, cast):
    responses = [invite(api, cast, "k-1") for _ in range(5)]
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert [r.get("Idempotent-Replayed") for r in responses] == [None] + ["true"] * 4
    assert Invitation.objects.count() == 1
    assert Message.objects.filter(kind="invitation").count() == 1


def test_the_same_key_with_another_body_is_refused(api, cast):
    invite(api, cast, "k-1")
    response = invite(api, cast, "k-1", {"appointment": None})
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Invitation.objects.count() == 1


def test_the_same_key_on_another_patient_is_refused(api, cast):
    invite(api, cast, "k-1")
    assert invite(api, cast, "k-1", patient=cast.ned).json()["code"] == "idempotency_key_reused"


def test_a_refusal_is_replayed_too(api, cast):
    first = invite(api, cast, "k-1", patient=cast.ned)
    assert first.status_code == 422
    replay = invite(api, cast, "k-1", patient=cast.ned)
    assert (replay.status_code, replay.content, replay["Content-Type"]) == (422, first.content, first["Content-Type"])


def test_keys_belong_to_one_token(api, cast):
    invite(api, cast, "k-1")
    other = ApiClient(tokens.create_token(cast.alice, name="second")[1])
    response = invite(other, cast, "k-1")
    assert response.status_code == 409 and response.json()["code"] == "already_pending"  # run, not replayed


def test_keys_are_kept_24_hours(api, cast):
    with time_machine.travel(NOW, tick=False):
        invite(api, cast, "k-1")
    with time_machine.travel(NOW + datetime.timedelta(hours=24) - datetime.timedelta(seconds=1), tick=False):
        assert invite(api, cast, "k-1").get("Idempotent-Replayed") == "true"
    with time_machine.travel(NOW + datetime.timedelta(hours=24), tick=False):
        again = invite(api, cast, "k-1")
    assert again.get("Idempotent-Replayed") is None
    assert again.json()["code"] == "already_pending"  # run afresh: the rule, not the key, refuses it


def test_a_key_in_use_is_refused_until_the_first_request_finishes(api, cast):
    token = tokens.authenticate(api.token)
    with time_machine.travel(NOW, tick=False):
        fingerprint = hashlib.sha256(f"POST\n/api/v1/patients/{cast.pat.pk}/portal_access\n{{}}".encode()).hexdigest()
        IdempotentRequest.objects.create(token=token, key="k-1", fingerprint=fingerprint, created_at=NOW)
    with time_machine.travel(NOW + datetime.timedelta(minutes=5) - datetime.timedelta(seconds=1), tick=False):
        response = invite(api, cast, "k-1")
    assert response.status_code == 409 and response.json()["code"] == "idempotency_key_in_use"
    assert not Invitation.objects.exists()
    # A first request that never finished (its process died) stops holding the key after 5 minutes.
    with time_machine.travel(NOW + datetime.timedelta(minutes=5), tick=False):
        assert invite(api, cast, "k-1").status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_it_refuses_a_malformed_key(api, cast, key):
    response = invite(api, cast, key)
    assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_it_replays_patch_and_delete(api, cast):
    for _ in range(2):
        assert api.patch(f"/patients/{cast.pat.pk}", {"first_name": "Patricia"},
                         headers={"Idempotency-Key": "p"}).status_code == 200
    invite(api, cast, "k-1")
    responses = [api.delete(f"/patients/{cast.pat.pk}/portal_access", headers={"Idempotency-Key": "d"})
                 for _ in range(2)]
    assert [r.status_code for r in responses] == [204, 204]  # the second is the replay, not "nothing to revoke"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_with_one_key_send_once(cast):
    token = tokens.create_token(cast.alice, name="x")[1]
    results = at_once(*[lambda: invite(ApiClient(token), cast, "same") for _ in range(4)])
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert Invitation.objects.count() == 1
    assert Message.objects.filter(kind="invitation").count() == 1


def test_the_worker_forgets_keys_after_24_hours(api, cast):
    token = tokens.authenticate(api.token)
    for age, key in ((datetime.timedelta(hours=24, seconds=1), "old"), (datetime.timedelta(hours=23), "kept")):
        IdempotentRequest.objects.create(token=token, key=key, fingerprint="f", created_at=NOW - age, status_code=201)
    # In-process, the task worker's connection closing is switched off, as conftest.run_worker does.
    with time_machine.travel(NOW, tick=False), \
            mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        call_command("worker", once=True, stdout=io.StringIO())
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["kept"]
