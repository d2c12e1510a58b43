"""Invitation tokens: 256 random bits from `secrets`, kept only as a SHA-256 hash.

The hash is salted with the token's purpose, so a token made for one purpose can never match a row
looked up for another (ASVS 5.0 §6.6.2), even if both tables were someday searched with it.
"""

import hashlib
import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

INVITATION = "portico.access.invitation"
# A parent's or guardian's link (access.ProxyInvitation): never matches a patient's invitation, nor back.
PROXY_INVITATION = "portico.access.proxy-invitation"
# Handed to whoever passed the identity check; only they can then accept (see accept_invitation).
IDENTITY_PROOF = "portico.access.identity-proof"
# A proxy's invitation link (access.ProxyInvitation: a guardian's, emailed by staff, or a caregiver's,
# emailed when the patient invites them) and the proof handed to whoever passed a proxy's identity check.
PROXY_INVITATION = "portico.access.proxy-invitation"
PROXY_IDENTITY_PROOF = "portico.access.proxy-identity-proof"
TOKEN_BYTES = 32  # 256 bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str, purpose: str = INVITATION) -> str:
    return hashlib.sha256(f"{purpose}:{token}".encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    """Cheap shape check before touching the database (43 URL-safe base64 characters)."""
    return len(value) == 43 and all(c.isalnum() or c in "-_" for c in value)


# --- short codes typed by hand ----------------------------------------------------------------------
# A printed invitation's activation code and an email confirmation code are typed, not clicked, so
# they are short. They are hashed with a key held outside the database (Django's salted_hmac, under
# SECRET_KEY) rather than a bare SHA-256: a reader of the table could try all 30^10 activation codes
# against a plain hash in hours, but not against a keyed one.

ACTIVATION_CODE = "portico.access.activation-code"
EMAIL_CODE = "portico.access.email-code"
# A caregiver's one-time code: shown once to the patient who invited them, passed on by hand.
CAREGIVER_CODE = "portico.access.caregiver-code"
# Digits and capitals without the look-alikes 0/O, 1/I/L, and U (read as V): 30 symbols.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
ACTIVATION_CODE_LENGTH = 10  # about 49 bits; guesses are throttled like identity checks
EMAIL_CODE_DIGITS = 6


def new_activation_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(ACTIVATION_CODE_LENGTH))


def format_activation_code(code: str) -> str:
    """ABCDE-FGHJK: two groups of five, as printed."""
    half = ACTIVATION_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_code(typed: str) -> str:
    """What the patient typed, as stored: capitals, without the spaces and dashes of the grouping."""
    return "".join(c for c in typed.upper() if c not in " -\t")


def looks_like_activation_code(value: str) -> bool:
    return len(value) == ACTIVATION_CODE_LENGTH and all(c in CODE_ALPHABET for c in value)


def new_email_code() -> str:
    return f"{secrets.randbelow(10 ** EMAIL_CODE_DIGITS):0{EMAIL_CODE_DIGITS}d}"


def hash_code(code: str, purpose: str) -> str:
    """A new code's hash, under SECRET_KEY."""
    return salted_hmac(purpose, code, algorithm="sha256").hexdigest()


def code_hashes(code: str, purpose: str) -> list[str]:
    """The hashes a code may be stored under: SECRET_KEY's, then each of SECRET_KEY_FALLBACKS', so a code
    printed or emailed before the key was rotated still works until its old key is dropped."""
    return [salted_hmac(purpose, code, secret=key, algorithm="sha256").hexdigest()
            for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]


def invitation_lookup(secret: str) -> dict[str, str] | None:
    """The Invitation filter for a link's token or a printed activation code (normalized), or None
    when it is neither: both lead to the same invitation and the same steps after it."""
    if looks_like_token(secret):
        return {"token_hash": hash_token(secret)}
    if looks_like_activation_code(secret):
        return {"code_hash__in": code_hashes(secret, ACTIVATION_CODE)}
    return None
