"""API tokens: 256 random bits from `secrets`, shown once, kept only as a purpose-bound SHA-256.

A token starts with "pt_" so that secret scanners and people can recognise one."""

import datetime
import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from api.models import ApiToken
from clinic.models import StaffMember

PURPOSE = "portico.api.token"
PREFIX = "pt_"
# last_used_at is written at most this often per token, so reads do not all become writes.
LAST_USED_PRECISION = datetime.timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(f"{PURPOSE}:{token}".encode()).hexdigest()


@transaction.atomic
def create_token(staff: StaffMember, *, name: str) -> tuple[ApiToken, str]:
    """A new token for `staff`; returns the row and the token itself (shown once, never stored)."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(staff=staff, name=name.strip()[:100] or "API token", token_hash=hash_token(token),
                                  prefix=token[:10], created_at=timezone.now())
    return row, token


def revoke_token(token: ApiToken) -> bool:
    """Stop the token working at once; False if it was already revoked."""
    return bool(ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()))


def authenticate(token: str) -> ApiToken | None:
    """The live token of a staff member, or None. Marks it used (at most once a minute)."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = (ApiToken.objects.select_related("staff__practice", "staff__user")
           .filter(token_hash=hash_token(token), revoked_at__isnull=True, staff__user__is_active=True).first())
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row
