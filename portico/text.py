"""Text from outside (an uploaded file, a header, another server's answer) on its way to a column."""

REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    """`text` with each NUL character replaced by U+FFFD: PostgreSQL cannot store NUL in a text column
    (the write fails with DataError), and a visible mark shows staff where the character was."""
    return text.replace("\x00", REPLACEMENT)
