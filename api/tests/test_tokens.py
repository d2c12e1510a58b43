import io

import pytest
import time_machine
from django.core.management import CommandError, call_command

from api import tokens
from api.models import ApiToken
from api.tests.conftest import ApiClient
from conftest import NOW


def test_it_prints_the_token_once_and_keeps_only_its_hash(cast):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "alice", "--name", "EHR", stdout=out, stderr=err)
    token = out.getvalue().strip()
    row = ApiToken.objects.get()
    assert token.startswith("pt_") and len(token) == 3 + 43
    assert row.token_hash == tokens.hash_token(token) != token
    assert token not in str(ApiToken.objects.values().get())
    assert row.staff == cast.alice and row.name == "EHR"
    assert ApiClient(token).get("/patients").status_code == 200


def test_it_refuses_someone_who_is_not_staff(cast):
    with pytest.raises(CommandError, match="not a practice staff member"):
        call_command("create_api_token", "nobody", stdout=io.StringIO())
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer pt_wrong", "Token abc", "Basic YWxpY2U6cHc="])
def test_it_requires_a_live_token(client, cast, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/api/v1/patients", **extra)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "unauthorized"


def test_it_refuses_a_revoked_token(cast):
    row, token = tokens.create_token(cast.alice, name="x")
    assert ApiClient(token).get("/patients").status_code == 200
    assert tokens.revoke_token(row)
    assert ApiClient(token).get("/patients").status_code == 401
    assert not tokens.revoke_token(row)


def test_it_refuses_the_token_of_a_deactivated_login(cast):
    _, token = tokens.create_token(cast.alice, name="x")
    cast.alice.user.is_active = False
    cast.alice.user.save()
    assert ApiClient(token).get("/patients").status_code == 401


def test_it_records_when_a_token_was_last_used(cast):
    row, token = tokens.create_token(cast.alice, name="x")
    assert row.last_used_at is None
    with time_machine.travel(NOW, tick=False):
        ApiClient(token).get("/patients")
    row.refresh_from_db()
    assert row.last_used_at == NOW


def test_it_acts_as_the_tokens_staff_member(cast):
    _, token = tokens.create_token(cast.bob, name="x")
    listed = ApiClient(token).get("/patients").json()["items"]
    assert [p["chart_number"] for p in listed] == ["B-200"]
