"""Every API answer may carry patient data: no browser or proxy may keep a copy of any of them, the
refusals and idempotent replays included (Cache-Control: no-store, private)."""

import datetime
import re

import pytest

from access.actions import requests
from access.models import Proxy
from api import tokens
from api.api import api as portico_api
from api.tests.conftest import ApiClient
from clinic.models import Appointment, StaffMember


def directives(response) -> set[str]:
    return {d.strip() for d in response.get("Cache-Control", "").split(",")}


def operations() -> list[tuple[str, str]]:
    """(method, path under /api/v1) of every operation the OpenAPI document lists."""
    paths = portico_api.get_openapi_schema()["paths"]
    return [(method, path.removeprefix("/api/v1")) for path, ops in paths.items() for method in ops]


@pytest.fixture
def api(cast) -> ApiClient:
    """A practice admin's token, so that every operation (bulk jobs included) answers as it would."""
    cast.alice.role = StaffMember.Role.ADMIN
    cast.alice.save()
    return ApiClient(tokens.create_token(cast.alice, name="EHR sync")[1])


@pytest.fixture
def ids(cast, api) -> dict[str, int]:
    start = datetime.datetime(2026, 11, 25, 14, 0, tzinfo=datetime.UTC)
    appointment = Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora,
                                             starts_at=start, ends_at=start + datetime.timedelta(minutes=30))
    job = api.post("/invitation_jobs", {"patient_ids": [cast.pat.pk]})
    assert job.status_code == 202, job.content
    access_request = requests.request_access(cast.practice, first_name="Pat", last_name="Jones", phone="+15555550123",
                                             date_of_birth=datetime.date(1980, 5, 17), email="pat@example.test")
    caregiver = Proxy.objects.create(practice=cast.practice, patient=cast.pat, kind="caregiver", first_name="Kim",
                                     last_name="Jones", relationship="spouse", email="kim@example.test", level="full",
                                     status="active", created_at=start)
    return {"patient_id": cast.pat.pk, "appointment_id": appointment.pk, "job_id": job.json()["id"],
            "request_id": access_request.pk, "proxy_id": caregiver.pk}


def test_it_knows_every_operation():
    assert len(operations()) == 23  # a new operation is covered by the tests below without a change here


@pytest.mark.parametrize("method, path", operations())
def test_it_forbids_storing_every_operations_answer(api, ids, method, path):
    url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
    response = api.call(method, url, None if method == "get" else {})
    assert response.status_code < 500, response.content
    assert {"no-store", "private"} <= directives(response), (method, path, response.status_code)


@pytest.mark.parametrize("method, path", operations())
def test_it_forbids_storing_a_refusal_without_a_token(cast, method, path):
    url = re.sub(r"\{\w+\}", str(cast.pat.pk), path)
    response = ApiClient(None).call(method, url, None if method == "get" else {})
    assert response.status_code == 401
    assert {"no-store", "private"} <= directives(response)


def test_it_forbids_storing_patient_data_read_and_written(api, cast):
    for response in [api.get("/patients"), api.get(f"/patients/{cast.pat.pk}"),
                     api.get(f"/patients/{cast.pat.pk}/portal_access"),
                     api.get(f"/patients/{cast.pat.pk}/portal_access/history")]:
        assert response.status_code == 200, response.content
        assert {"no-store", "private"} <= directives(response)
    created = api.post("/patients", {"chart_number": "A-300", "first_name": "Ada", "last_name": "Lee"})
    assert created.status_code == 201
    assert {"no-store", "private"} <= directives(created)


def test_it_forbids_storing_an_idempotent_replay(api, cast):
    body = {"chart_number": "A-301", "first_name": "Ada", "last_name": "Lee"}
    first = api.post("/patients", body, headers={"Idempotency-Key": "k-1"})
    replay = api.post("/patients", body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert {"no-store", "private"} <= directives(replay)
