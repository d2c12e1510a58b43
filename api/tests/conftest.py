"""API test tools: a token per cast member and a client that sends JSON with one."""

import json

import pytest
from django.test import Client

from api import tokens


class ApiClient:
    """Django's test client, speaking JSON to /api/v1/ with a bearer token."""

    def __init__(self, token: str | None):
        self.client, self.token = Client(), token

    def call(self, method: str, path: str, body=None, *, headers: dict | None = None, raw: bytes | None = None,
             **query):
        extra = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        url = "/api/v1" + path
        if method == "get":
            return self.client.get(url, query, **extra)
        return getattr(self.client, method)(url, data, content_type="application/json", **extra)

    def get(self, path, **query):
        return self.call("get", path, **query)

    def post(self, path, body=None, **kwargs):
        return self.call("post", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.call("patch", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("delete", path, **kwargs)


@pytest.fixture
def api(cast) -> ApiClient:
    """Alice's token (practice A)."""
    return ApiClient(tokens.create_token(cast.alice, name="EHR sync")[1])


@pytest.fixture
def bob_api(cast) -> ApiClient:
    """Bob's token (practice B)."""
    return ApiClient(tokens.create_token(cast.bob, name="Other EHR")[1])
