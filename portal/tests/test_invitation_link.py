"""The emailed link, end to end over real SMTP: built from PORTICO_BASE_URL whatever Host the staff
request carried, sent only to the address on file, and usable by the patient."""

import re

import pytest
from django.urls import reverse

from access.models import Invitation
from conftest import run_worker
from portal.tests.conftest import create_account


def _received_link(smtp_server) -> str:
    (message,) = smtp_server.messages()
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    (link,) = set(re.findall(r"https?://[^\s\"<>]+/i/[^\s\"<>]+/", text))
    assert link in html
    return link


@pytest.mark.parametrize("headers", [
    {"HTTP_HOST": "evil.example"},
    {"HTTP_HOST": "portal.example.test", "HTTP_X_FORWARDED_HOST": "evil.example"},
])
def test_it_builds_the_link_from_the_configured_base_url(client, cast, settings, smtp_server, headers):
    settings.ALLOWED_HOSTS = ["*"]  # as if a proxy let any Host through
    settings.USE_X_FORWARDED_HOST = True
    client.force_login(cast.alice.user)
    response = client.post(reverse("clinic:enable-access", args=[cast.pat.pk]), **headers)
    assert response.status_code == 302
    run_worker()

    assert [e.rcpt_tos for e in smtp_server.envelopes] == [["pat@example.test"]]
    link = _received_link(smtp_server)
    assert link.startswith("https://portal.example.test/portal/i/")
    assert "evil" not in smtp_server.envelopes[0].content.decode()
    token = link.rsplit("/", 2)[-2]
    create_account(client.__class__(), token)  # the patient, in a browser of their own
    assert Invitation.objects.get().status == Invitation.Status.ACCEPTED
