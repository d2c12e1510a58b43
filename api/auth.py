"""Bearer tokens: each request acts as the token's staff member, in their practice."""

from ninja.security import HttpBearer

from api import tokens
from api.models import ApiToken


class TokenAuth(HttpBearer):
    openapi_description = "A token from Settings → API tokens (or manage.py create_api_token): `Bearer pt_…`."

    def authenticate(self, request, token: str) -> ApiToken | None:
        # Looked up once per request: the guard (rate limits, idempotency) asks before the operation does.
        if not hasattr(request, "_api_token"):
            request._api_token = tokens.authenticate(token)
        if request._api_token is not None:
            request.staff = request._api_token.staff
        return request._api_token


bearer = TokenAuth()
