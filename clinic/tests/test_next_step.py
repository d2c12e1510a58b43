"""Portal Access offers one next step per state, explained in a sentence, and never two buttons that
do the same thing (issue 15: locked, revoked and disconnected offered both Enable and Resend)."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from access.tests.test_selectors import one_of_each  # noqa: F401 (a fixture: a patient in every state)
from conftest import NOW

SENTENCES = {
    "not_invited": "No invitation has been sent yet. <strong>Enable Patient Access</strong> emails the patient a link",
    "pending": "The patient has been emailed a link and has not used it yet.",
    "connected": "The patient uses the portal with this practice. Revoke Access ends that",
    "expired": "The invitation link expired before the patient used it.",
    "revoked": "The practice revoked the invitation or the patient's portal access",
    "access_revoked": "The practice revoked the invitation or the patient's portal access",
    "locked": "The patient's identity check failed 3 times, so the link was locked. Check the details on file "
              "with the patient, then send a new invitation with <strong>Enable Patient Access</strong>.",
    "disconnected": "The patient disconnected this practice from their portal account.",
    "not_eligible": "The patient cannot be invited until the missing details are on file.",
}
# The one enabled button that sends, per state (None: nothing can be sent now).
SEND = {"not_invited": "Enable Patient Access", "pending": "Resend invitation", "connected": None,
        "expired": "Enable Patient Access", "revoked": "Enable Patient Access", "access_revoked": "Enable Patient Access",
        "locked": "Enable Patient Access", "disconnected": "Enable Patient Access", "not_eligible": None}
ENABLED_SEND = re.compile(r'<button type="submit" class="primary" id="[a-z-]+">([^<]+)</button>')


@pytest.mark.parametrize("name", SENTENCES)
def test_it_explains_the_state_and_offers_one_way_to_send(client, cast, one_of_each, name):  # noqa: F811
    client.force_login(cast.alice.user)
    with time_machine.travel(NOW + datetime.timedelta(days=8, seconds=1), tick=False):
        html = client.get(reverse("clinic:portal-access", args=[one_of_each[name].pk])).content.decode()
    next_step = re.search(r'data-testid="next-step">(.*?)</p>', html, re.S).group(1)
    assert SENTENCES[name] in " ".join(next_step.split())
    assert ENABLED_SEND.findall(html) == ([SEND[name]] if SEND[name] else [])
    assert html.count("Resend invitation</button>") == (1 if name == "pending" else 0)
