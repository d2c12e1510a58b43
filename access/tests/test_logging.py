"""Logs name ids and actions only: never a token, SSN, date of birth, phone or email address."""

import logging

import pytest

from access import errors
from access.actions import acceptance, sending
from access.tests.helpers import connect, send
from clinic.services import update_patient
from conftest import run_worker


def test_no_personal_detail_or_secret_reaches_the_logs(cast, smtp_server, caplog):
    caplog.set_level(logging.DEBUG)
    first = send(cast)
    with pytest.raises(errors.IdentityNotConfirmed):
        acceptance.verify_identity(first.token, acceptance.IdentityAnswers(ssn="987-65-4321"))
    sending.revoke_invitation(cast.pat, by=cast.alice)
    sent, conn = connect(cast)
    run_worker()
    sending.revoke_invitation(cast.pat, by=cast.alice)
    update_patient(cast.pat, by=cast.alice, email="new.pat@example.test", phone="+15555550999")
    # Ours and Django's; not the test SMTP server's own debug log (mail.log), which prints what it receives.
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("portico", "django")))
    assert "invitation" in text and "delivered" in text  # the logs do say what happened
    for secret in (first.token, sent.token, "pat@example.test", "new.pat@example.test", "123456789", "123-45-6789",
                   "987-65-4321", "6789", "1980-05-17", "5550123", "5550999", "Jones"):
        assert secret not in text, secret
