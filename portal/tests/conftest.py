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


# --- proxy access: a child of the practice and a parent's pending invitation ---------------------

ALEX_BORN = "2016-04-09"


@pytest.fixture
def alex(cast):
    """A child of 10 at NOW, at Pat's practice."""
    import datetime

    from clinic.models import Patient

    return Patient.objects.create(practice=cast.practice, doctor=cast.dora, chart_number="A-300", first_name="Alex",
                                  last_name="Rivera", email="jordan@example.test",
                                  date_of_birth=datetime.date(2016, 4, 9))


@pytest.fixture
def guardian_invited(cast, alex, clock):
    """Jordan Rivera (Alex's mother) invited by Alice at NOW: `.token` is the link's secret."""
    from access.tests.proxies import invite_guardian

    return invite_guardian(alex, by=cast.alice)


GUARDIAN_ANSWERS = {"date_of_birth": "04/09/2016", "phone": "(555) 555-0199"}


def open_proxy_link(client, token):
    return client.get(reverse("portal:proxy-landing", args=[token]))


def confirm_guardian(client, token, answers=None):
    open_proxy_link(client, token)
    return client.post(reverse("portal:proxy-accept"), answers or GUARDIAN_ANSWERS)


def accept_as_new_account(client, token, password=PASSWORD, answers=None):
    confirm_guardian(client, token, answers)
    return client.post(reverse("portal:proxy-account"), {"password1": password, "password2": password})
