"""Invitation tokens: 256 random bits from `secrets`, kept only as a SHA-256 hash.

The hash is salted with the token's purpose, so a token made for one purpose can never match a row
looked up for another (ASVS 5.0 §6.6.2), even if both tables were someday searched with it.
"""

import hashlib
import secrets

INVITATION = "portico.access.invitation"
# Handed to whoever passed the identity check; only they can then accept (see accept_invitation).
IDENTITY_PROOF = "portico.access.identity-proof"
TOKEN_BYTES = 32  # 256 bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str, purpose: str = INVITATION) -> str:
    return hashlib.sha256(f"{purpose}:{token}".encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    """Cheap shape check before touching the database (43 URL-safe base64 characters)."""
    return len(value) == 43 and all(c.isalnum() or c in "-_" for c in value)
