import logging

import pytest
from django.urls import reverse

from access.models import AccessEvent
from portico.client import Client


def test_it_takes_the_connection_address(rf):
    request = rf.get("/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Browser/1")
    assert Client.from_request(request) == Client("203.0.113.5", "Browser/1")


def test_it_ignores_proxy_headers_unless_configured(rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="203.0.113.5")
    assert Client.from_request(request).ip == "10.0.0.2"


def test_it_reads_the_configured_proxy_header(rf, settings):
    settings.PORTICO_CLIENT_IP_HEADER = "X-Real-IP"
    assert Client.from_request(rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="203.0.113.5")).ip == "203.0.113.5"
    # Neither a usable header nor a usable connection address: none at all, never an invalid value.
    assert Client.from_request(rf.get("/", REMOTE_ADDR="", HTTP_X_REAL_IP="<script>")).ip is None


@pytest.mark.parametrize(("header", "expected"), [
    ("203.0.113.5", "203.0.113.5"),
    # The proxy appends the address it saw; what comes before is whatever the client sent.
    ("198.51.100.66, 203.0.113.5", "203.0.113.5"),
    ("198.51.100.66,203.0.113.5", "203.0.113.5"),
    ("  1.2.3.4 ,  198.51.100.66 ,   203.0.113.5  ", "203.0.113.5"),
    ("198.51.100.66, 2001:db8::7", "2001:db8::7"),
    ("2001:DB8:0:0::7", "2001:db8::7"),
])
def test_a_list_header_counts_the_entry_our_proxy_appended(rf, settings, header, expected):
    settings.PORTICO_CLIENT_IP_HEADER = "X-Forwarded-For"
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=header)
    assert Client.from_request(request).ip == expected


@pytest.mark.parametrize("header", ["<script>", "203.0.113.5, not-an-address", "203.0.113.5,", "unknown", None])
def test_an_unusable_header_falls_back_to_the_connection_address_and_says_so(rf, settings, caplog, header):
    """Failing closed: behind the proxy every such request shares the proxy's own address (one
    throttle bucket), rather than having no address and so no throttle at all."""
    settings.PORTICO_CLIENT_IP_HEADER = "X-Forwarded-For"
    extra = {} if header is None else {"HTTP_X_FORWARDED_FOR": header}
    with caplog.at_level(logging.WARNING, logger="portico.client"):
        assert Client.from_request(rf.get("/", REMOTE_ADDR="10.0.0.2", **extra)).ip == "10.0.0.2"
    assert "PORTICO_CLIENT_IP_HEADER X-Forwarded-For is" in caplog.text
    assert "203.0.113.5" not in caplog.text  # header values (addresses) stay out of the log


@pytest.mark.django_db(transaction=True)
def test_a_nul_in_the_user_agent_is_recorded_without_it(client, cast):
    """PostgreSQL cannot store NUL in a text column: the history keeps the header, marked where it was."""
    client.force_login(cast.alice.user)
    response = client.get(reverse("clinic:chart", args=[cast.bea.pk]), HTTP_USER_AGENT="Evil\x00Browser")
    assert response.status_code == 404
    event = AccessEvent.objects.get(action=AccessEvent.Action.FOREIGN_ID)
    assert event.user_agent == "Evil\ufffdBrowser"
