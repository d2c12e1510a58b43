"""The account step never fails on the length of the invited address: a portal account is named after
it and Django's User.username holds 150 characters (clinic/tests/test_email_limit.py covers entry)."""

from django.contrib.auth import get_user_model
from django.urls import reverse

from access.actions import sending
from access.models import Channel, Invitation
from access.tests.helpers import snapshot
from clinic.models import Patient
from portal.tests.conftest import PASSWORD, confirm_identity

URL = reverse("portal:account")
AT_LIMIT = "p" * 64 + "@" + "d" * 63 + "." + "e" * 16 + ".test"
OVER_LIMIT = "p" * 64 + "@" + "d" * 63 + "." + "e" * 17 + ".test"


def test_an_address_of_150_characters_becomes_the_account(client, cast, clock):
    """Also run on PostgreSQL (make test-pg), where a longer username is refused by the column."""
    assert len(AT_LIMIT) == 150
    Patient.objects.filter(pk=cast.pat.pk).update(email=AT_LIMIT)
    cast.pat.refresh_from_db()
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    confirm_identity(client, sent.token)
    response = client.post(URL, {"password1": PASSWORD, "password2": PASSWORD})
    assert response["Location"] == reverse("portal:home")
    assert get_user_model().objects.get(staff__isnull=True).username == AT_LIMIT


def test_an_invitation_to_a_longer_address_is_refused_with_a_message(client, sent):
    """An invitation sent before the limit existed (its column holds 254) cannot become an account."""
    assert len(OVER_LIMIT) == 151
    Invitation.objects.filter(pk=sent.invitation.pk).update(email=OVER_LIMIT)
    confirm_identity(client, sent.token)
    before = snapshot()
    response = client.post(URL, {"password1": PASSWORD, "password2": PASSWORD}, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert "Your email address is too long to sign in with." in response.content.decode()
    assert not get_user_model().objects.filter(staff__isnull=True).exists()
    assert snapshot() == before
