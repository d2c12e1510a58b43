"""The REST API under /api/v1/ (django-ninja): the OpenAPI document at /api/v1/openapi.json and the
reference at /api/v1/docs are generated from these routes and schemas, so they cannot drift."""

from ninja import NinjaAPI

from api import errors
from api.auth import bearer
from api.endpoints import access_requests, appointments, jobs, patients, portal_access, proxies, texts
from api.errors import PROBLEM_CONTENT_TYPE
from api.guard import guard


class PorticoAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs):
        """Error answers are documented as what they are: application/problem+json (api.errors)."""
        schema = super().get_openapi_schema(**kwargs)
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if int(status) >= 400 and "application/json" in response.get("content", {}):
                        response["content"] = {PROBLEM_CONTENT_TYPE: response["content"]["application/json"]}
        return schema


api = PorticoAPI(
    title="Portico API", version="1.0.0", urls_namespace="api",
    description="Patients, appointments and portal access for a practice's other systems. See docs/api.md.",
    auth=bearer,
)
errors.install(api)
api.add_decorator(guard, mode="view")
api.add_router("/patients", patients.router)
api.add_router("/patients", portal_access.router)
api.add_router("/appointments", appointments.router)
api.add_router("/invitation_jobs", jobs.router)
api.add_router("/access_requests", access_requests.router)
api.add_router("/patients", texts.router)
api.add_router("/patients", proxies.router)  # issue 21
