"""Opaque cursors: the position after the last item of a page, as URL-safe base64 of JSON."""

import base64
import binascii
import json

from api.errors import Problem


def encode(position: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, default=str).encode()).decode().rstrip("=")


def decode(cursor: str, *, types: tuple[type, ...]) -> list:
    """The position a cursor holds, checked against the expected types; 400 for anything else."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        position = None
    if not isinstance(position, list) or len(position) != len(types) or not all(
            isinstance(value, kind) and not isinstance(value, bool) for value, kind in zip(position, types, strict=True)):
        raise Problem(400, "bad_cursor", "This cursor was not given by this API; start again without one.")
    return position
