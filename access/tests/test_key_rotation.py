"""Rotating SECRET_KEY (the old key moved to SECRET_KEY_FALLBACKS) keeps the short codes keyed with it
working: a letter printed and an email code sent before the rotation still lead where they did, until
the old key is dropped (access.tokens.code_hashes)."""

import os
import subprocess
import sys

import pytest
from django.test import override_settings

from access import errors
from access.actions import acceptance, email_confirmation, printing
from access.models import EmailConfirmation, Invitation
from access.tests.helpers import right_answers
from mail.models import Message

OLD_KEY = "the-key-the-letter-was-printed-under-" + "o" * 20
NEW_KEY = "the-key-after-rotation-" + "n" * 30
PASSWORD = "a-long-enough-password"


@pytest.fixture
def printed_code(cast) -> str:
    """Pat's printed activation code, as typed, printed under OLD_KEY."""
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        return printing.print_invitation(cast.pat, by=cast.alice).code


def test_a_code_printed_before_the_rotation_still_works_with_the_old_key_as_a_fallback(cast, printed_code):
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        invitation, _ = printing.invitation_for_code(printed_code)
    assert invitation == Invitation.objects.get(patient=cast.pat)


def test_once_the_old_key_is_dropped_the_code_is_not_recognised(cast, printed_code):
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]), pytest.raises(errors.CodeNotRecognised):
        printing.invitation_for_code(printed_code)


def test_an_email_code_sent_before_the_rotation_is_still_accepted(cast, printed_code):
    cast.pat.email = ""
    cast.pat.save()
    code = printed_code.replace("-", "")
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        proof = acceptance.verify_identity(code, right_answers(cast.pat)).proof
        confirmation = email_confirmation.send_email_code(code, proof=proof, email="pat.new@example.test")
    sent = Message.objects.get(kind="email-code").secret_link

    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        email_confirmation.confirm_email_code(code, proof=proof, confirmation_id=confirmation.pk, code=sent)
    assert EmailConfirmation.objects.get().confirmed_at is not None


def test_the_fallback_keys_come_from_the_environment_comma_separated():
    env = {**os.environ, "DEBUG": "1", "SECRET_KEY": NEW_KEY, "SECRET_KEY_FALLBACKS": f" {OLD_KEY} , second,"}
    printed = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                               "print(settings.SECRET_KEY_FALLBACKS)"],
        env=env, capture_output=True, text=True, check=True).stdout
    assert printed.strip() == repr([OLD_KEY, "second"])
