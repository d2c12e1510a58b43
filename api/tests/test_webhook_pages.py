"""The Webhooks settings page: practice admins only; the secret shown once; rotate, disable, delete."""

import pytest
from django.urls import reverse

from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from clinic.models import StaffMember

URL = "/settings/webhooks/"


@pytest.fixture
def admin(cast, django_user_model):
    user = django_user_model.objects.create_user(username="ada", password="staff-password-123")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)


@pytest.fixture
def other_admin(cast, django_user_model):
    user = django_user_model.objects.create_user(username="oz", password="staff-password-123")
    return StaffMember.objects.create(user=user, practice=cast.other_practice, role=StaffMember.Role.ADMIN)


def shown_secret(response) -> str:
    html = response.content.decode()
    return html.split('data-testid="webhook-secret"')[1].split("<code>")[1].split("</code>")[0]


def test_it_requires_login(client, cast):
    assert client.get(URL).status_code == 302


@pytest.mark.parametrize("who", ["alice", "dora"])
def test_it_is_for_practice_admins_only(client, cast, who):
    client.force_login(getattr(cast, who).user)
    assert client.get(URL).status_code == 404
    assert client.post(URL, {"url": "https://ehr.example.test/h"}).status_code == 404
    assert WebhookEndpoint.objects.count() == 0


def test_an_admin_registers_an_endpoint_and_sees_the_secret_once(client, admin):
    client.force_login(admin.user)
    response = client.post(URL, {"url": "https://ehr.example.test/hooks"})
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.practice, endpoint.url, endpoint.enabled) == (admin.practice, "https://ehr.example.test/hooks", True)
    assert shown_secret(response) == endpoint.secret and endpoint.secret.startswith("whsec_")
    page = client.get(URL).content.decode()
    assert "https://ehr.example.test/hooks" in page and endpoint.secret not in page


def test_http_to_another_host_is_refused_on_the_page(client, admin, settings):
    settings.PORTICO_WEBHOOKS_ALLOW_LOOPBACK_HTTP = True
    client.force_login(admin.user)
    response = client.post(URL, {"url": "http://ehr.example.test/hooks"})
    assert response.status_code == 200
    assert "plain http:// is allowed only to this machine" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("url", ["https://169.254.169.254/latest/meta-data/", "https://localhost/hooks"])
def test_an_internal_address_is_refused_on_the_page_and_nothing_saved(client, admin, settings, url):
    settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE = False
    client.force_login(admin.user)
    response = client.post(URL, {"url": url})
    assert response.status_code == 200
    assert "an internal address" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 0


def test_rotating_shows_a_new_secret_once(client, admin):
    endpoint = webhooks.create_endpoint(admin.practice, "https://ehr.example.test/h", by=admin)
    old = endpoint.secret
    client.force_login(admin.user)
    new = shown_secret(client.post(reverse("webhooks:rotate", args=[endpoint.pk])))
    endpoint.refresh_from_db()
    assert endpoint.secret == new != old
    assert new not in client.get(URL).content.decode()


def test_disable_enable_and_delete(client, admin, cast):
    endpoint = webhooks.create_endpoint(admin.practice, "https://ehr.example.test/h", by=admin)
    client.force_login(admin.user)
    client.post(reverse("webhooks:enabled", args=[endpoint.pk]), {"enabled": "0"})
    assert not WebhookEndpoint.objects.get().enabled
    client.post(reverse("webhooks:enabled", args=[endpoint.pk]), {"enabled": "1"})
    assert WebhookEndpoint.objects.get().enabled
    assert client.post(reverse("webhooks:delete", args=[endpoint.pk])).status_code == 302
    assert WebhookEndpoint.objects.count() == 0


def test_disable_pressed_twice_leaves_it_disabled(client, admin):
    # Two admins on the same page both press Disable: the state asked for, not a flip back on.
    endpoint = webhooks.create_endpoint(admin.practice, "https://ehr.example.test/h", by=admin)
    client.force_login(admin.user)
    page = client.get(URL).content.decode()
    assert 'name="enabled" value="0"' in page and "Disable</button>" in page
    for _ in range(2):
        assert client.post(reverse("webhooks:enabled", args=[endpoint.pk]), {"enabled": "0"}).status_code == 302
    assert not WebhookEndpoint.objects.get().enabled
    assert 'name="enabled" value="1"' in client.get(URL).content.decode()


@pytest.mark.parametrize("data", [{}, {"enabled": "yes"}])
def test_enabled_without_a_clear_state_is_refused_and_changes_nothing(client, admin, data):
    endpoint = webhooks.create_endpoint(admin.practice, "https://ehr.example.test/h", by=admin)
    before = list(WebhookEndpoint.objects.values())
    client.force_login(admin.user)
    assert client.post(reverse("webhooks:enabled", args=[endpoint.pk]), data).status_code == 400
    assert list(WebhookEndpoint.objects.values()) == before


def test_it_shows_the_latest_deliveries_and_failures(client, admin, cast):
    from access.tests.helpers import send

    webhooks.create_endpoint(admin.practice, "https://ehr.example.test/h", by=admin)
    send(cast)
    WebhookDelivery.objects.update(status="failed", attempts=8, last_error="HTTP Error 500: Internal Server Error")
    client.force_login(admin.user)
    page = client.get(URL).content.decode()
    delivery = WebhookDelivery.objects.get()
    assert str(delivery.event_id) in page and "portal_access.invited" in page
    assert "Failed" in page and "HTTP Error 500: Internal Server Error" in page


@pytest.mark.parametrize("action", ["rotate", "enabled", "delete"])
def test_another_practices_endpoint_is_404_and_unchanged(client, admin, other_admin, action):
    theirs = webhooks.create_endpoint(other_admin.practice, "https://other.example.test/h", by=other_admin)
    before = list(WebhookEndpoint.objects.values())
    client.force_login(admin.user)
    assert client.post(reverse(f"webhooks:{action}", args=[theirs.pk])).status_code == 404
    assert list(WebhookEndpoint.objects.values()) == before


def test_actions_refuse_get(client, admin):
    endpoint = webhooks.create_endpoint(admin.practice, "https://ehr.example.test/h", by=admin)
    client.force_login(admin.user)
    assert client.get(reverse("webhooks:delete", args=[endpoint.pk])).status_code == 405
