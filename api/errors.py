"""The one place where refusals become HTTP: each access.errors class (which carries its own `code`
and the `message` the pages show) gets its status here, and everything the API answers with an error
uses one shape, RFC 9457 problem details (application/problem+json)."""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from access import errors
from access.actions import audit
from clinic.selectors import OtherPractice
from portico.client import Client

PROBLEM_CONTENT_TYPE = "application/problem+json"

# HTTP status per domain error. A refusal not listed (the patient-side ones never reach the API) is 400.
STATUS: dict[type[errors.Refusal], int] = {
    errors.NotEligible: 422,
    errors.AlreadyPending: 409,
    errors.AlreadyConnected: 409,
    errors.TooManyInvitations: 409,
    errors.NothingToRevoke: 404,
    errors.RequestNotOpen: 409,
    errors.EmailChoiceNeeded: 422,
    errors.ChartOfAnotherPractice: 404,
    errors.UnknownDeclineReason: 422,
    errors.NoMobileNumber: 422,
    # A parent's or guardian's invitation (issue 21): as the patient's of the same kind.
    errors.GuardianNotEligible: 422,
    errors.GuardianAlreadyInvited: 409,
    errors.GuardianAlreadyActive: 409,
    errors.TooManyGuardianInvitations: 409,
    errors.ProxyNotLive: 404,
    errors.ProxyAlreadyActive: 409,
}

# ValidationErrors (clinic.services) whose code means a conflict with the record's state, not bad input.
CONFLICTS = {"appointment_closed"}

TITLES = {400: "Bad request", 401: "Unauthorized", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
          413: "Request too large", 422: "Unprocessable request", 429: "Too many requests"}


class Problem(Exception):
    """An error answer from API code itself (not a domain refusal)."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers, self.extra = status, code, detail, headers or {}, extra


def problem_response(status: int, code: str, detail: str, *, headers: dict[str, str] | None = None,
                     **extra) -> HttpResponse:
    body = {"type": f"urn:portico:problem:{code}", "title": TITLES.get(status, "Error"), "status": status,
            "detail": detail, "code": code, **extra}
    response = HttpResponse(json.dumps(body, default=str), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def for_refusal(error: errors.Refusal) -> HttpResponse:
    extra = {}
    if isinstance(error, errors.NotEligible):
        extra["missing"] = error.missing
    if isinstance(error, errors.AlreadyPending) and error.expires_at is not None:
        extra["expires_at"] = error.expires_at.isoformat()
    return problem_response(STATUS.get(type(error), 400), error.code, error.message, **extra)


def for_validation(error: DjangoValidationError | dict) -> HttpResponse:
    """A form's or a model's errors, by field ("__all__" for the whole)."""
    if isinstance(error, DjangoValidationError) and getattr(error, "code", None) in CONFLICTS:
        return problem_response(409, error.code, " ".join(error.messages))
    fields = error if isinstance(error, dict) else getattr(error, "message_dict", {"__all__": error.messages})
    return problem_response(422, "invalid", "Some fields are not valid; see `errors`.",
                            errors={name: [str(m) for m in messages] for name, messages in fields.items()})


def for_not_found(request, error: Http404) -> HttpResponse:
    """404, the same for a missing record and another practice's; the latter recorded (the API's
    scoping edge, as access.middleware is the pages')."""
    if isinstance(error, OtherPractice):
        audit.record_foreign_id(error.staff, error.kind, error.record_id, client=Client.from_request(request))
    return problem_response(404, "not_found", "No such record.")


def install(api) -> None:
    """Route every exception the API can raise to one problem response."""
    api.add_exception_handler(errors.Refusal, lambda request, exc: for_refusal(exc))
    api.add_exception_handler(Problem, lambda request, exc: problem_response(
        exc.status, exc.code, exc.detail, headers=exc.headers, **exc.extra))
    api.add_exception_handler(DjangoValidationError, lambda request, exc: for_validation(exc))
    api.add_exception_handler(Http404, for_not_found)
    api.add_exception_handler(AuthenticationError, lambda request, exc: problem_response(
        401, "unauthorized", "Send a live API token: Authorization: Bearer <token>.",
        headers={"WWW-Authenticate": 'Bearer realm="portico"'}))
    api.add_exception_handler(HttpError, lambda request, exc: problem_response(
        exc.status_code, "bad_request" if exc.status_code == 400 else "http_error", str(exc)))
    api.add_exception_handler(NinjaValidationError, lambda request, exc: problem_response(
        422, "invalid", "The request does not match the schema; see `errors`.", errors=_schema_errors(exc)))


def _schema_errors(exc: NinjaValidationError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        # loc is e.g. ("body", "data", "email") or ("query", "limit"): name the field, not the wrapper.
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "data", "query", "path", "payload")]
        fields.setdefault(".".join(loc) or "__all__", []).append(str(error.get("msg", "Invalid value")))
    return fields
