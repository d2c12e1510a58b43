import datetime
import inspect
import json

from access import errors
from api.errors import STATUS, for_refusal


def refusals() -> list[type[errors.Refusal]]:
    """Every refusal class, staff's and the patient's side (which the API never meets, but maps alike)."""
    return [c for _, c in inspect.getmembers(errors, inspect.isclass)
            if issubclass(c, errors.Refusal) and c not in (errors.Refusal, errors.InvitationError)]


def test_each_staff_refusal_has_its_status_in_one_place():
    assert {cls.__name__: status for cls, status in STATUS.items()} == {
        "NotEligible": 422, "AlreadyPending": 409, "AlreadyConnected": 409, "TooManyInvitations": 409,
        "NothingToRevoke": 404, "RequestNotOpen": 409, "EmailChoiceNeeded": 422, "ChartOfAnotherPractice": 404,
        "UnknownDeclineReason": 422, "NoMobileNumber": 422,
        "GuardianNotEligible": 422, "GuardianAlreadyInvited": 409, "GuardianAlreadyActive": 409,
        "TooManyGuardianInvitations": 409, "ProxyNotLive": 404, "ProxyAlreadyActive": 409,
    }


def test_every_refusal_becomes_a_problem_with_its_code_and_page_message():
    for cls in refusals():
        error = cls.__new__(cls)
        errors.Refusal.__init__(error, f"message of {cls.__name__}")
        if issubclass(cls, errors.NotEligible):
            error.missing = ["Add an email address"]
        if issubclass(cls, errors.AlreadyPending):
            error.expires_at = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
        response = for_refusal(error)
        body = json.loads(response.content)
        assert response["Content-Type"] == "application/problem+json"
        assert (body["code"], body["detail"]) == (cls.code, f"message of {cls.__name__}")
        assert body["status"] == response.status_code == STATUS.get(cls, 400)
