import pytest
from django.core.exceptions import ValidationError

from access.models import Invitation
from access.tests.helpers import actions_of, send, snapshot
from clinic.services import update_patient


def test_changing_the_email_revokes_a_pending_invitation(cast):
    sent = send(cast)
    update_patient(cast.pat, by=cast.alice, email="new@example.test")
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.REVOKED
    assert actions_of(cast.pat) == ["invitation.sent", "invitation.revoked"]
    assert cast.pat.access_events.first().reason == "Email address changed"
    cast.pat.refresh_from_db()
    assert cast.pat.email == "new@example.test"


def test_the_same_email_in_other_case_changes_nothing(cast):
    send(cast)
    update_patient(cast.pat, by=cast.alice, email="PAT@example.test")
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_other_changes_keep_the_invitation(cast):
    send(cast)
    update_patient(cast.pat, by=cast.alice, phone="+15555550199", first_name="Patricia")
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_bad_data_changes_nothing(cast):
    send(cast)
    before = snapshot()
    with pytest.raises(ValidationError):
        update_patient(cast.pat, by=cast.alice, email="not-an-email")
    assert snapshot() == before
    cast.pat.refresh_from_db()
    assert cast.pat.email == "pat@example.test"


def test_the_ssn_is_encrypted_at_rest_and_masked(cast):
    from django.db import connection

    update_patient(cast.pat, by=cast.alice, ssn="234567890")
    with connection.cursor() as cur:
        cur.execute("SELECT ssn, ssn_last4 FROM clinic_patient WHERE id = %s", [cast.pat.pk])
        stored, last4 = cur.fetchone()
    assert "234567890" not in stored and last4 == "7890"
    cast.pat.refresh_from_db()
    assert cast.pat.ssn == "234567890"
    assert cast.pat.masked_ssn == "***-**-7890"
