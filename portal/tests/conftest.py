"""Helpers for the patient-side tests: send an invitation, walk a browser session through its steps."""

import html
import re

import pytest
import time_machine
from django.urls import reverse

from access.actions import sending
from access.models import Channel
from conftest import NOW

PASSWORD = "a-long-portal-passphrase-42"
PAT_SSN = "123-45-6789"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sent(cast, clock):
    """Pat's pending invitation (sent by Alice from the chart at NOW); `.token` is the emailed secret."""
    return sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)


def open_link(client, token):
    return client.get(reverse("portal:landing", args=[token]))


def confirm_identity(client, token, **answers):
    open_link(client, token)
    return client.post(reverse("portal:accept"), answers or {"ssn": PAT_SSN})


def create_account(client, token, password=PASSWORD):
    confirm_identity(client, token)
    return client.post(reverse("portal:account"), {"password1": password, "password2": password})


def events(invitation):
    """The invitation's history actions, oldest first."""
    return list(invitation.events.order_by("id").values_list("action", flat=True))


@pytest.fixture
def connected(client, cast, sent):
    """Pat has accepted the invitation and is signed in to the portal in `client`; returns the Connection."""
    create_account(client, sent.token)
    client.get(reverse("portal:home"))  # shows (and so clears) the "now connected" message
    return cast.pat.connections.get()


def field_error(body: str, field_id: str) -> str:
    """The error shown next to one field (portal/_field.html), unescaped; "" if none."""
    found = re.search(rf'<span class="errorlist" id="{field_id}_error">(.*?)</span>', body, re.S)
    return html.unescape(found.group(1)) if found else ""


def field_hint(body: str, field_id: str) -> str:
    """The hint shown above one field, before anything is typed (tags stripped)."""
    found = re.search(rf'<div class="hint" id="{field_id}_helptext">(.*?)</div>', body, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))) if found else ""
