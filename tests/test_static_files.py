"""With DEBUG off, collected static files are served under hashed names, compressed, cached for a year."""

import re

import pytest
from django.core.management import call_command

YEAR = 365 * 24 * 3600


@pytest.fixture
def collected(settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    call_command("collectstatic", interactive=False, verbosity=0)


def stylesheet(client) -> str:
    page = client.get("/login/").content.decode()
    return re.search(r'<link rel="stylesheet" href="([^"]+)">', page).group(1)


@pytest.mark.django_db
def test_a_pages_stylesheet_is_served_and_cached_for_a_year(collected, client):
    url = stylesheet(client)
    assert re.fullmatch(r"/static/portico\.[0-9a-f]{12}\.css", url)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b".topbar" in b"".join(response.streaming_content)
    max_age = int(re.search(r"max-age=(\d+)", response["Cache-Control"]).group(1))
    assert max_age >= YEAR and "immutable" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_sends_the_compressed_copy_to_browsers_that_take_it(collected, client):
    response = client.get(stylesheet(client), HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"


@pytest.mark.django_db
def test_the_htmx_script_is_served_too(collected, client, cast):
    client.force_login(cast.alice.user)
    page = client.get("/patients/").content.decode()
    (url,) = re.findall(r'<script src="(/static/vendor/htmx[^"]+)"', page)
    assert client.get(url).status_code == 200
