import datetime

import time_machine

from api import tokens
from api.tests.conftest import ApiClient

START = datetime.datetime(2026, 11, 2, 15, 0, 10, tzinfo=datetime.UTC)  # 10 s into a minute


def test_it_answers_429_with_retry_after_past_the_limit(api, cast, settings):
    settings.PORTICO_API_RATE_LIMIT = 3
    with time_machine.travel(START, tick=False):
        assert [api.get("/patients").status_code for _ in range(3)] == [200, 200, 200]
        refused = api.get("/patients")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "50"
    assert refused.json()["code"] == "rate_limited"
    with time_machine.travel(START + datetime.timedelta(seconds=50), tick=False):
        assert api.get("/patients").status_code == 200


def test_each_token_has_its_own_limit(api, cast, settings):
    settings.PORTICO_API_RATE_LIMIT = 1
    other = ApiClient(tokens.create_token(cast.alice, name="second")[1])
    with time_machine.travel(START, tick=False):
        assert api.get("/patients").status_code == 200
        assert api.get("/patients").status_code == 429
        assert other.get("/patients").status_code == 200


def test_a_refused_write_does_nothing(api, cast, settings):
    settings.PORTICO_API_RATE_LIMIT = 1
    with time_machine.travel(START, tick=False):
        api.get("/patients")
        assert api.post(f"/patients/{cast.pat.pk}/portal_access").status_code == 429
    assert not cast.pat.invitations.exists()
