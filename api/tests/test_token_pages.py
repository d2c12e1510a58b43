from django.urls import reverse

from api import tokens
from api.models import ApiToken
from api.tests.conftest import ApiClient

URL = "/settings/api-tokens/"


def test_it_requires_login(client, cast):
    assert client.get(URL).status_code == 302


def test_it_is_for_staff_only(client, cast, django_user_model):
    client.force_login(django_user_model.objects.create_user("patient@example.test", password="x" * 12))
    assert client.get(URL).status_code == 404


def test_it_creates_a_token_and_shows_it_once(client, cast):
    client.force_login(cast.alice.user)
    html = client.post(URL, {"name": "EHR sync"}).content.decode()
    row = ApiToken.objects.get()
    token = html.split('data-testid="new-token"')[1].split("<code>")[1].split("</code>")[0]
    assert row.token_hash == tokens.hash_token(token) and row.staff == cast.alice
    assert ApiClient(token).get("/patients").status_code == 200
    assert token not in client.get(URL).content.decode()  # never again


def test_it_revokes_its_own_token(client, cast):
    row, token = tokens.create_token(cast.alice, name="x")
    client.force_login(cast.alice.user)
    assert client.post(reverse("api-settings:revoke-token", args=[row.pk])).status_code == 302
    assert ApiClient(token).get("/patients").status_code == 401


def test_it_hides_someone_elses_token(client, cast):
    row, token = tokens.create_token(cast.bob, name="x")
    client.force_login(cast.alice.user)
    assert client.post(reverse("api-settings:revoke-token", args=[row.pk])).status_code == 404
    assert ApiClient(token).get("/patients").status_code == 200


def test_it_rejects_get_on_revoke(client, cast):
    row, _ = tokens.create_token(cast.alice, name="x")
    client.force_login(cast.alice.user)
    assert client.get(reverse("api-settings:revoke-token", args=[row.pk])).status_code == 405
