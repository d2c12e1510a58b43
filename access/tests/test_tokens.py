import hashlib

from access import tokens
from access.models import Invitation
from access.tests.helpers import send
from mail.models import Message


def test_it_makes_256_bit_tokens():
    token = tokens.new_token()
    assert len(token) == 43  # 32 bytes, URL-safe base64 without padding
    assert tokens.looks_like_token(token)
    assert len({tokens.new_token() for _ in range(1000)}) == 1000


def test_it_binds_the_hash_to_a_purpose():
    token = tokens.new_token()
    assert tokens.hash_token(token) == hashlib.sha256(f"{tokens.INVITATION}:{token}".encode()).hexdigest()
    assert tokens.hash_token(token, purpose="portico.password-reset") != tokens.hash_token(token)


def test_it_stores_only_the_hash(cast):
    sent = send(cast)
    row = Invitation.objects.filter(pk=sent.invitation.pk).values().get()
    assert sent.token not in str(row)
    assert row["token_hash"] == tokens.hash_token(sent.token)
    # The outbox keeps the link for the mail only encrypted at rest.
    assert Message.objects.get().secret_link.endswith(f"/portal/i/{sent.token}/")  # decrypted by the field
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT secret_link FROM mail_message")
        (stored,) = cur.fetchone()
    assert sent.token not in stored
