import pytest

from access.actions import jobs
from access.models import AccessEvent, InvitationJob
from api import tokens
from api.tests.conftest import ApiClient
from clinic.models import StaffMember


@pytest.fixture
def admin_api(cast) -> ApiClient:
    cast.alice.role = StaffMember.Role.ADMIN
    cast.alice.save()
    return ApiClient(tokens.create_token(cast.alice, name="bulk")[1])


def test_it_starts_a_job_and_reports_each_patient(admin_api, cast):
    response = admin_api.post("/invitation_jobs", {"patient_ids": [cast.pat.pk, cast.ned.pk]})
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert response.json()["total"] == 2 and not response.json()["done"]
    jobs.run_invitation_job(job_id)
    body = admin_api.get(f"/invitation_jobs/{job_id}").json()
    assert (body["invited"], body["skipped"], body["done"]) == (1, 1, True)
    assert [(p["chart_number"], p["reason_code"]) for p in body["skipped_patients"]] == [("A-101", "not_eligible")]
    assert cast.pat.invitations.get().channel == "bulk"


def test_it_starts_a_job_over_a_filter(admin_api, cast):
    response = admin_api.post("/invitation_jobs", {"filter": {"status": "not_invited"}})
    assert response.status_code == 202 and response.json()["total"] == 1


@pytest.mark.parametrize("body", [{}, {"patient_ids": [1], "filter": {}}, {"patient_ids": []}])
def test_it_wants_ids_or_a_filter(admin_api, cast, body):
    assert admin_api.post("/invitation_jobs", body).status_code == 422
    assert not InvitationJob.objects.exists()


def test_it_is_for_practice_admins(api, cast):
    assert api.post("/invitation_jobs", {"patient_ids": [cast.pat.pk]}).status_code == 404
    assert not InvitationJob.objects.exists()


def test_another_practices_patient_id_is_404_and_recorded(admin_api, cast):
    response = admin_api.post("/invitation_jobs", {"patient_ids": [cast.pat.pk, cast.bea.pk]})
    assert response.status_code == 404
    assert not InvitationJob.objects.exists()
    assert AccessEvent.objects.get().reason == f"patient {cast.bea.pk}"


def test_it_hides_other_practices_job(admin_api, cast):
    job_id = admin_api.post("/invitation_jobs", {"patient_ids": [cast.pat.pk]}).json()["id"]
    cast.bob.role = StaffMember.Role.ADMIN
    cast.bob.save()
    bob = ApiClient(tokens.create_token(cast.bob, name="x")[1])
    assert bob.get(f"/invitation_jobs/{job_id}").status_code == 404
    assert AccessEvent.objects.get(action=AccessEvent.Action.FOREIGN_ID).practice == cast.other_practice
